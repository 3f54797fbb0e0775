package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// LeciBuild is leci built from this module the way make build builds it.
type LeciBuild struct {
	// Leci is the leci binary; it carries Helper.
	Leci string
	// Helper is leci-helper, the program leci runs as log writer and
	// sandbox process.
	Helper string
}

// RaceEnv, set to 1, makes BuildLeci build leci with the race detector
// (make integration sets it for one of its runs). A race-built leci writes
// what it finds where GORACE's log_path says: see RaceReports.
const RaceEnv = "LECI_RACE"

// BuildTagsEnv, when set, gives the build tags BuildLeci builds leci with
// (make test-cluster: leci_node).
const BuildTagsEnv = "LECI_BUILD_TAGS"

// BuildLeci builds leci-helper and then leci carrying it (and its SHA-256)
// into dir, as make build does: static (CGO_ENABLED=0), leci-helper shown
// to the leci build through an overlay so that nothing is written into the
// source tree. With RaceEnv=1, leci is built with -race (and cgo, which the
// race detector needs); leci-helper stays static, as it runs inside
// containers.
func BuildLeci(dir string) (LeciBuild, error) {
	goBin := goTool()
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		return LeciBuild{}, fmt.Errorf("go env GOMOD: %w", err)
	}
	modRoot := filepath.Dir(strings.TrimSpace(string(out)))
	b := LeciBuild{Leci: filepath.Join(dir, "leci"), Helper: filepath.Join(dir, "leci-helper")}
	goBuild := func(race bool, args ...string) error {
		flags := []string{"build", "-trimpath"}
		if tags := os.Getenv(BuildTagsEnv); tags != "" {
			flags = append(flags, "-tags", tags)
		}
		cgo := "CGO_ENABLED=0"
		if race {
			flags, cgo = append(flags, "-race"), "CGO_ENABLED=1"
		}
		cmd := exec.Command(goBin, append(flags, args...)...)
		cmd.Dir = modRoot
		cmd.Env = append(os.Environ(), cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := goBuild(false, "-ldflags", "-s -w", "-o", b.Helper, "./internal/helper/cmd/leci-helper"); err != nil {
		return LeciBuild{}, err
	}
	prog, err := os.ReadFile(b.Helper)
	if err != nil {
		return LeciBuild{}, err
	}
	sum := sha256.Sum256(prog)
	sumFile := b.Helper + ".sha256"
	if err := os.WriteFile(sumFile, []byte(hex.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
		return LeciBuild{}, err
	}
	embedDir := filepath.Join(modRoot, "internal", "helper", "bin")
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {
		filepath.Join(embedDir, "leci-helper"):        b.Helper,
		filepath.Join(embedDir, "leci-helper.sha256"): sumFile,
	}})
	if err != nil {
		return LeciBuild{}, err
	}
	overlayFile := filepath.Join(dir, "leci-helper.overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		return LeciBuild{}, err
	}
	if err := goBuild(os.Getenv(RaceEnv) == "1", "-overlay", overlayFile, "-o", b.Leci, "./cmd/leci"); err != nil {
		return LeciBuild{}, err
	}
	return b, nil
}

// RaceReports returns what race-built programs wrote under dir, where
// GORACE="log_path=DIR/race" sends each process's reports (a file
// race.PID per process that found a race). None means no race was seen.
func RaceReports(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "race.*"))
	if err != nil {
		return nil, err
	}
	var reports []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if len(b) > 0 {
			reports = append(reports, f+":\n"+string(b))
		}
	}
	return reports, nil
}

// goTool is the go command: the one on PATH, else the one of the Go this
// test was built with.
func goTool() string {
	if goBin, err := exec.LookPath("go"); err == nil {
		return goBin
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// BuildStatic builds the package pkg (such as ./testdata/pause, relative
// to the test's package directory) into the binary out, static
// (CGO_ENABLED=0) as a binary that runs inside containers must be. A
// failure ends the test.
func BuildStatic(t testing.TB, pkg, out string) {
	t.Helper()
	cmd := exec.Command(goTool(), "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
}
