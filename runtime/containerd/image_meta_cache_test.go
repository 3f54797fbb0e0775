package containerd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A meta kept by one process is found by the next; a file that is not a
// meta is not taken for one; a digest that is not one names no file.
func TestImageMetaFilesKeepMetasForTheNextProcess(t *testing.T) {
	files := imageMetaFiles{dir: filepath.Join(t.TempDir(), "image-meta")}
	d := digest.FromString("an image")
	want := imageMeta{chainID: digest.FromString("layers").String()}
	want.config.Config = ocispec.ImageConfig{User: "app", Entrypoint: []string{"/bin/app"}, Env: []string{"A=1"}}
	if _, ok := files.load(d); ok {
		t.Fatal("a meta found before any was kept")
	}
	if err := files.store(d, want); err != nil {
		t.Fatal(err)
	}
	got, ok := (imageMetaFiles{dir: files.dir}).load(d)
	if !ok || got.chainID != want.chainID || got.config.Config.User != "app" || got.config.Config.Entrypoint[0] != "/bin/app" || got.config.Config.Env[0] != "A=1" {
		t.Errorf("kept %+v, found %+v (%v)", want, got, ok)
	}
	if err := os.WriteFile(files.path(d), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := files.load(d); ok {
		t.Error("a damaged file taken for a meta")
	}
	if err := files.store(digest.Digest("sha256:../../escape"), want); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(files.dir)); len(entries) != 1 {
		t.Errorf("an invalid digest wrote beside the files: %v", entries)
	}
	if fi, err := os.Stat(files.path(d)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("meta file mode: %v (%v), want 0600", fi.Mode(), err)
	}
}
