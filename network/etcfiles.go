package network

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"leci/internal/atomicfile"
	"leci/pod"
)

// DNS policies of ECI's DnsPolicy field.
const (
	// DNSPolicyDefault inherits the host's resolver settings, extended by
	// the request's DnsConfig. An empty policy means this one.
	DNSPolicyDefault = "Default"
	// DNSPolicyNone uses exactly the request's DnsConfig.
	DNSPolicyNone = "None"
)

// Where the host's resolver settings are read from.
const (
	hostResolvConf = "/etc/resolv.conf"
	// resolvedResolvConf lists the upstream servers of systemd-resolved,
	// whose stub at 127.0.0.53 is unreachable from a group's namespace.
	resolvedResolvConf = "/run/systemd/resolve/resolv.conf"
	resolvedStub       = "127.0.0.53"
)

// The /etc files are described with the pod package's types, so that the
// engine hands them over as they are.
type (
	// EtcFiles is what a group's /etc/hosts, /etc/hostname and
	// /etc/resolv.conf say.
	EtcFiles = pod.EtcFiles
	// HostAlias is one hosts line: an address and its names.
	HostAlias = pod.HostAlias
	// DNSOption is a resolv.conf option, written "name" or "name:value".
	DNSOption = pod.DNSOption
	// EtcPaths are the files WriteEtcFiles wrote, to be bind mounted into
	// every container of the group.
	EtcPaths = pod.EtcPaths
)

// WriteEtcFiles writes the group's /etc files into dir: the engine's view
// of WriteEtcFiles.
func (m *Manager) WriteEtcFiles(dir string, f EtcFiles) (EtcPaths, error) {
	return WriteEtcFiles(dir, f)
}

// FillEtcFiles is the engine's view of FillEtcFiles.
func (m *Manager) FillEtcFiles(dir string, f EtcFiles) (EtcPaths, error) {
	return FillEtcFiles(dir, f)
}

// WriteEtcFiles writes dir/hosts, dir/hostname and dir/resolv.conf for a
// group. Each file is replaced atomically, so a reader never sees half of
// one; a container that bind mounted an earlier version keeps seeing it.
func WriteEtcFiles(dir string, f EtcFiles) (EtcPaths, error) {
	return writeEtcFiles(dir, f, hostResolvConf, resolvedResolvConf, replaceFile)
}

// FillEtcFiles writes the files of WriteEtcFiles in place: a file that is
// there keeps its inode, so a container created (its files bind mounted)
// before sees the new content. A reader could see half a file, so it is
// only for files that no started container reads yet: a group's, once its
// address is known, before its first container starts.
func FillEtcFiles(dir string, f EtcFiles) (EtcPaths, error) {
	return writeEtcFiles(dir, f, hostResolvConf, resolvedResolvConf, overwriteFile)
}

func replaceFile(path string, data []byte) error {
	return atomicfile.Write(path, data, 0o644)
}

func overwriteFile(path string, data []byte) error {
	return os.WriteFile(path, data, 0o644)
}

// writeEtcFiles is WriteEtcFiles with the host's resolv.conf files and the
// way each file is written given, so that tests need not depend on the
// host's.
func writeEtcFiles(dir string, f EtcFiles, hostResolv, resolvedResolv string, write func(path string, data []byte) error) (EtcPaths, error) {
	if err := validateEtcFiles(f); err != nil {
		return EtcPaths{}, err
	}
	var resolv resolvConf
	switch f.DNSPolicy {
	case DNSPolicyNone:
		resolv = resolvConf{nameservers: f.NameServers, searches: f.Searches}
		resolv.setOptions(f.Options)
	case DNSPolicyDefault, "":
		var err error
		resolv, err = readHostResolvConf(hostResolv, resolvedResolv)
		if err != nil {
			return EtcPaths{}, err
		}
		resolv.nameservers = appendNew(resolv.nameservers, f.NameServers...)
		resolv.searches = appendNew(resolv.searches, f.Searches...)
		resolv.setOptions(f.Options)
	default:
		return EtcPaths{}, fmt.Errorf("dns policy %q is neither %q nor %q", f.DNSPolicy, DNSPolicyDefault, DNSPolicyNone)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return EtcPaths{}, err
	}
	p := EtcPaths{
		Hosts:    filepath.Join(dir, "hosts"),
		Hostname: filepath.Join(dir, "hostname"),
		Resolv:   filepath.Join(dir, "resolv.conf"),
	}
	for path, content := range map[string]string{
		p.Hosts:    hostsFile(f),
		p.Hostname: f.Hostname + "\n",
		p.Resolv:   resolv.String(),
	} {
		if err := write(path, []byte(content)); err != nil {
			return EtcPaths{}, err
		}
	}
	return p, nil
}

// validate refuses values that would add lines or fields to the files.
func validateEtcFiles(f EtcFiles) error {
	var errs []error
	if f.Hostname == "" {
		errs = append(errs, errors.New("hostname is empty"))
	} else if !isWord(f.Hostname) {
		errs = append(errs, fmt.Errorf("hostname %q is not a single word", f.Hostname))
	}
	if f.IP != "" {
		if _, err := netip.ParseAddr(f.IP); err != nil {
			errs = append(errs, fmt.Errorf("ip: %w", err))
		}
	}
	for _, a := range f.Aliases {
		if _, err := netip.ParseAddr(a.IP); err != nil {
			errs = append(errs, fmt.Errorf("host alias: %w", err))
		}
		if len(a.Hostnames) == 0 {
			errs = append(errs, fmt.Errorf("host alias %s has no hostnames", a.IP))
		}
		for _, h := range a.Hostnames {
			if !isWord(h) {
				errs = append(errs, fmt.Errorf("host alias hostname %q is not a single word", h))
			}
		}
	}
	for _, ns := range f.NameServers {
		if _, err := netip.ParseAddr(ns); err != nil {
			errs = append(errs, fmt.Errorf("nameserver: %w", err))
		}
	}
	for _, s := range f.Searches {
		if !isWord(s) {
			errs = append(errs, fmt.Errorf("search domain %q is not a single word", s))
		}
	}
	for _, o := range f.Options {
		if !isWord(o.Name) || (o.Value != "" && !isWord(o.Value)) {
			errs = append(errs, fmt.Errorf("dns option %q:%q is not a word and an optional word", o.Name, o.Value))
		}
	}
	return errors.Join(errs...)
}

// isWord tells whether s is one field of a hosts or resolv.conf line: not
// empty, no white space, controls or comment characters.
func isWord(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '#' || r == ';'
	}) < 0
}

func hostsFile(f EtcFiles) string {
	var b strings.Builder
	b.WriteString("127.0.0.1 localhost\n")
	b.WriteString("::1 localhost ip6-localhost ip6-loopback\n")
	if f.IP != "" {
		fmt.Fprintf(&b, "%s %s\n", f.IP, f.Hostname)
	}
	for _, a := range f.Aliases {
		fmt.Fprintf(&b, "%s %s\n", a.IP, strings.Join(a.Hostnames, " "))
	}
	return b.String()
}

// resolvConf is a parsed resolv.conf.
type resolvConf struct {
	nameservers []string
	searches    []string
	// options are "name" or "name:value", at most one per name.
	options []string
	// other are lines kept as they were (sortlist, ...).
	other []string
}

// readHostResolvConf reads the host's resolver settings. When they name
// systemd-resolved's stub, the file of the servers behind it is used
// instead, because the stub listens on the host's loopback, which a group's
// namespace does not share; without that file the stub is only dropped. A
// host without resolv.conf gives none.
func readHostResolvConf(path, resolvedPath string) (resolvConf, error) {
	rc, err := readResolvConf(path)
	if err != nil {
		return resolvConf{}, err
	}
	if !slices.Contains(rc.nameservers, resolvedStub) {
		return rc, nil
	}
	upstream, err := readResolvConf(resolvedPath)
	if err != nil {
		return resolvConf{}, err
	}
	if len(upstream.nameservers) > 0 {
		return upstream, nil
	}
	rc.nameservers = slices.DeleteFunc(rc.nameservers, func(ns string) bool { return ns == resolvedStub })
	return rc, nil
}

func readResolvConf(path string) (resolvConf, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return resolvConf{}, nil
	}
	if err != nil {
		return resolvConf{}, err
	}
	return parseResolvConf(string(b)), nil
}

func parseResolvConf(s string) resolvConf {
	var rc resolvConf
	for _, line := range strings.Split(s, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], ";") {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if len(fields) > 1 {
				rc.nameservers = append(rc.nameservers, fields[1])
			}
		case "search", "domain":
			// As in glibc, the last search or domain line wins.
			rc.searches = append([]string(nil), fields[1:]...)
		case "options":
			for _, o := range fields[1:] {
				rc.setOption(o)
			}
		default:
			rc.other = append(rc.other, strings.Join(fields, " "))
		}
	}
	return rc
}

func (rc *resolvConf) setOptions(opts []DNSOption) {
	for _, o := range opts {
		if o.Value == "" {
			rc.setOption(o.Name)
		} else {
			rc.setOption(o.Name + ":" + o.Value)
		}
	}
}

// setOption adds an option, replacing one of the same name, so that the
// request's ndots:5 overrides the host's ndots:1.
func (rc *resolvConf) setOption(opt string) {
	name, _, _ := strings.Cut(opt, ":")
	for i, o := range rc.options {
		if n, _, _ := strings.Cut(o, ":"); n == name {
			rc.options[i] = opt
			return
		}
	}
	rc.options = append(rc.options, opt)
}

func (rc resolvConf) String() string {
	var b strings.Builder
	for _, ns := range rc.nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(rc.searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rc.searches, " "))
	}
	if len(rc.options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rc.options, " "))
	}
	for _, l := range rc.other {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// appendNew appends the values of add not yet in list.
func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}
