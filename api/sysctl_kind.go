package api

// IsSafeSysctl reports whether a sysctl belongs in SecurityContext.Sysctl
// (safe) rather than HostSecurityContext.Sysctl: the one list of a Kubernetes
// Pod is split by it.
func IsSafeSysctl(name string) bool { return safeSysctl(name) }
