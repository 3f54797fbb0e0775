// Package mountinfo reads this process's mount table, /proc/self/mountinfo.
package mountinfo

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"sort"
	"strings"
)

// Mount is one line of the table.
type Mount struct {
	// Root is the path of the mounted filesystem that appears at Point.
	Root string
	// Point is where it is mounted, unescaped.
	Point string
	// FSType and Source come after the " - " separator.
	FSType string
	Source string
	// SuperOptions are the filesystem's own options (for cgroup v1, its
	// controllers among them).
	SuperOptions string
}

// Read returns every mount of this process's mount namespace.
func Read() ([]Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads a mount table in the mountinfo format.
func Parse(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if !ok || len(fields) < 5 {
			continue
		}
		m := Mount{Root: Unescape(fields[3]), Point: Unescape(fields[4])}
		if pf := strings.Fields(post); len(pf) >= 3 {
			m.FSType, m.Source, m.SuperOptions = pf[0], Unescape(pf[1]), pf[2]
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// Under returns the mount points at or below dir, deepest first, the order
// in which they can be unmounted.
func Under(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return under(f, dir)
}

// under is Under on a table read from r. Every group's delete asks it, on a
// host whose table holds every other group's mounts too, so it keeps only
// the mount point of each line, and only copies the ones it returns.
func under(r io.Reader, dir string) ([]string, error) {
	var out []string
	prefix := []byte(dir)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		point, ok := field(sc.Bytes(), 4)
		if !ok {
			continue
		}
		var p string
		switch {
		case bytes.IndexByte(point, '\\') >= 0:
			p = Unescape(string(point))
		case bytes.HasPrefix(point, prefix):
			p = string(point)
		default:
			continue // the usual case: no copy made
		}
		if p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, sc.Err()
}

// field returns the n-th (from 0) space-separated field of line.
func field(line []byte, n int) ([]byte, bool) {
	for ; n > 0; n-- {
		i := bytes.IndexByte(line, ' ')
		if i < 0 {
			return nil, false
		}
		line = bytes.TrimLeft(line[i:], " ")
	}
	if i := bytes.IndexByte(line, ' '); i >= 0 {
		line = line[:i]
	}
	return line, len(line) > 0
}

// Unescape undoes the kernel's \ooo escapes (a space is \040).
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
