package containerd

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"leci/internal/atomicfile"
)

// imageMetaFiles keeps each image's imageMeta in a file under leci's
// root, named by the image's target digest, for the processes to come: a
// leci run is a new process each time, and would otherwise read the
// image's manifest and config from containerd's content store (four round
// trips) before every create. What a digest names never changes, so a file
// is never stale; one that cannot be read is read from the store again.
type imageMetaFiles struct {
	dir string // "" keeps nothing
}

// maxImageMetaFiles bounds the files; past it they start again.
const maxImageMetaFiles = 512

type imageMetaFile struct {
	Config  ocispec.Image `json:"config"`
	ChainID string        `json:"chainID"`
}

func (f imageMetaFiles) path(d digest.Digest) string {
	return filepath.Join(f.dir, d.Algorithm().String()+"-"+d.Encoded()+".json")
}

func (f imageMetaFiles) load(d digest.Digest) (imageMeta, bool) {
	if f.dir == "" || d.Validate() != nil {
		return imageMeta{}, false
	}
	b, err := os.ReadFile(f.path(d))
	if err != nil {
		return imageMeta{}, false
	}
	var m imageMetaFile
	if json.Unmarshal(b, &m) != nil || m.ChainID == "" {
		return imageMeta{}, false
	}
	return imageMeta{config: m.Config, chainID: m.ChainID}, true
}

// store writes m for d; failing, it costs the next process the reads.
func (f imageMetaFiles) store(d digest.Digest, m imageMeta) error {
	if f.dir == "" || d.Validate() != nil {
		return nil
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return err
	}
	if entries, err := os.ReadDir(f.dir); err == nil && len(entries) >= maxImageMetaFiles {
		for _, e := range entries {
			os.Remove(filepath.Join(f.dir, e.Name()))
		}
	}
	b, err := json.Marshal(imageMetaFile{Config: m.config, ChainID: m.chainID})
	if err != nil {
		return err
	}
	return atomicfile.Write(f.path(d), b, 0o600)
}
