package host

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"leci/internal/atomicfile"
)

// runcFixes are the runc releases that fixed the 2025 mount races
// (CVE-2025-31133, CVE-2025-52565, CVE-2025-52881), by minor release;
// a minor release not listed (1.1 and older) has no fix.
var runcFixes = map[[2]int]runcVersion{
	{1, 2}: {1, 2, 8, 0, false},
	{1, 3}: {1, 3, 3, 0, false},
	{1, 4}: {1, 4, 0, 3, true},
}

// runcFixed21626 is the first runc with the fix for CVE-2024-21626 (a
// working directory in a leaked /sys/fs/cgroup descriptor: root on the
// host from an image or a request).
var runcFixed21626 = runcVersion{1, 1, 12, 0, false}

// runcVersion is major.minor.patch, with rc for a release candidate.
type runcVersion struct {
	major, minor, patch, rc int
	isRC                    bool
}

func (v runcVersion) less(w runcVersion) bool {
	a := []int{v.major, v.minor, v.patch}
	b := []int{w.major, w.minor, w.patch}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	switch {
	case v.isRC && !w.isRC:
		return true
	case v.isRC && w.isRC:
		return v.rc < w.rc
	}
	return false
}

var (
	runcVersionRe = regexp.MustCompile(`(?m)^runc version v?(\d+)\.(\d+)\.(\d+)(?:-rc\.?(\d+))?(\S*)`)
	// distroBuildRe tells a distribution's build of runc: Debian's repack
	// (+ds1) and stable updates (+deb12u1, shown on the commit line),
	// Ubuntu's revisions, Fedora's and RHEL's release tags. Such builds
	// carry backported fixes their upstream version does not show.
	distroBuildRe = regexp.MustCompile(`\+ds\d*|\+dfsg|\+deb\d+u\d+|ubuntu|\.el\d|\.fc\d`)
)

// judgeRunc reads `runc --version`. It refuses an upstream runc older than
// 1.1.12; a distribution build older than that only warns, since the
// distribution may have backported the fix (Debian 12's 1.1.5+ds1-1+deb12u1
// has it). It warns for a runc without the fixes of the 2025 mount races.
func judgeRunc(out string) (warnings []string, err error) {
	m := runcVersionRe.FindStringSubmatch(out)
	if m == nil {
		return []string{fmt.Sprintf("cannot read runc's version from %q; leci cannot tell whether it has the fixes for CVE-2024-21626 and the 2025 mount races", strings.TrimSpace(out))}, nil
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	v := runcVersion{major: num(m[1]), minor: num(m[2]), patch: num(m[3]), rc: num(m[4]), isRC: m[4] != ""}
	distro := distroBuildRe.FindString(out)
	name := strings.TrimPrefix(strings.SplitN(m[0], "\n", 2)[0], "runc version ")
	if v.less(runcFixed21626) {
		if distro == "" {
			return nil, fmt.Errorf("runc %s is older than 1.1.12 and lacks the fix for CVE-2024-21626 (a container can reach the host's filesystem); install runc 1.1.12 or later", name)
		}
		warnings = append(warnings, fmt.Sprintf("runc %s is older than 1.1.12, the fix for CVE-2024-21626; it is a distribution build (%s), which may carry the fix backported: check the distribution's security advisory", name, distro))
	}
	if fix, ok := runcFixes[[2]int{v.major, v.minor}]; !ok && v.less(runcVersion{1, 2, 0, 0, false}) || ok && v.less(fix) {
		warnings = append(warnings, fmt.Sprintf("runc %s lacks the fixes for the 2025 mount races (CVE-2025-31133, CVE-2025-52565, CVE-2025-52881; fixed in 1.2.8, 1.3.3 and 1.4.0-rc.3) unless its distribution backported them", name))
	}
	return warnings, nil
}

// checkRunc runs `runc --version` (the runtime containerd's runc shim and
// Docker run from the PATH) and judges it: it returns an error for a runc
// leci refuses and logs a warning for one it only doubts.
func checkRunc(ctx context.Context, cacheFile string, log *slog.Logger) error {
	out, err := runcVersionOutput(ctx, cacheFile)
	if err != nil {
		log.Warn("cannot run runc --version; leci cannot tell whether runc has the fixes for CVE-2024-21626 and the 2025 mount races", "err", err)
		return nil
	}
	warnings, err := judgeRunc(out)
	for _, w := range warnings {
		log.Warn("RUNC MAY BE VULNERABLE: " + w)
	}
	return err
}

// runcVersionOutput is what `runc --version` prints. It is kept in
// cacheFile with the identity of the runc binary that printed it, so a
// leci that opens the same root reads it there instead of starting runc
// once more (once per `leci run`), until runc is replaced.
func runcVersionOutput(ctx context.Context, cacheFile string) (string, error) {
	path, err := exec.LookPath("runc")
	if err != nil {
		return "", err
	}
	id, err := fileIdentity(path)
	if err != nil {
		return "", err
	}
	if b, err := os.ReadFile(cacheFile); err == nil {
		if key, out, ok := strings.Cut(string(b), "\n"); ok && key == id {
			return out, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", err
	}
	// Best effort: without the cache, the next leci runs runc again.
	if err := atomicfile.Write(cacheFile, []byte(id+"\n"+string(out)), 0o600); err != nil {
		slog.Debug("keep runc --version", "err", err)
	}
	return string(out), nil
}

// fileIdentity names path's file as it is now: replacing or changing it
// changes the name.
func fileIdentity(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", fmt.Errorf("stat %s: %w", path, err)
	}
	return fmt.Sprintf("%s dev=%d ino=%d size=%d mtime=%d.%d ctime=%d.%d", path, st.Dev, st.Ino, st.Size,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec), nil
}
