// Package containerd is leci's connection to containerd and its image store.
//
// Connect dials the containerd leci is told to use, or, with the address
// "auto", the system containerd if one answers and else leci's own containerd,
// which it starts on first need under the leci root and which every leci
// process on that root then shares. Images come in by Import (an OCI layout or
// docker-archive tar) or Pull (from a registry, with credentials, plain-HTTP
// and insecure-TLS host lists as in an ECI request) and are always unpacked
// into the snapshotter, so a container can be created from them at once.
//
// The package uses containerd's v2 Go client and works against containerd 1.6
// and later: it touches only services 1.6 has (no transfer or sandbox
// service), and pulls and imports on the client side.
//
// Errors are wrapped with %w. A missing image is reported with ErrNotFound,
// which is containerd's errdefs.ErrNotFound, so either may be tested with
// errors.Is.
package containerd
