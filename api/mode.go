package api

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// FileMode is a file's permission bits as the API takes them. The reference
// writes modes in octal with a leading zero ("0644") while the SDKs send the
// number in decimal ("420"): a leading 0 (or 0o) means octal, anything else
// decimal, so both spell rw-r--r--. It is written back as a decimal number.
type FileMode uint32

// Perm is the mode as an fs.FileMode.
func (m FileMode) Perm() fs.FileMode { return fs.FileMode(m) & fs.ModePerm }

// String prints the mode in octal with a leading zero, as the reference does.
func (m FileMode) String() string { return fmt.Sprintf("%#04o", uint32(m)) }

// decodeText implements textDecoder.
func (m *FileMode) decodeText(s string) error {
	base := 10
	digits := s
	switch {
	case strings.HasPrefix(s, "0o"), strings.HasPrefix(s, "0O"):
		base, digits = 8, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	if digits == "" || strings.ContainsAny(digits, "+-_") {
		return fmt.Errorf("%q is not a file mode", s)
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		return fmt.Errorf("%q is not a file mode (octal with a leading 0 like 0644, or decimal like 420)", s)
	}
	*m = FileMode(v)
	return nil
}
