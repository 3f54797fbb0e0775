package api

// Handler is a lifecycle hook of a container: at most one of Exec, HTTPGet
// and TCPSocket is set.
type Handler struct {
	Exec      []string
	HTTPGet   *HTTPGetAction
	TCPSocket *TCPSocketAction
}

// PostStart returns the postStart hook, nil when none is set.
func (c *Container) PostStart() *Handler {
	return handlerOf(c.LifecyclePostStartHandlerExec,
		c.LifecyclePostStartHandlerHTTPGetHost, c.LifecyclePostStartHandlerHTTPGetPath, c.LifecyclePostStartHandlerHTTPGetScheme,
		c.LifecyclePostStartHandlerHTTPGetPort, c.LifecyclePostStartHandlerHTTPGetHTTPHeader,
		c.LifecyclePostStartHandlerTCPSocketHost, c.LifecyclePostStartHandlerTCPSocketPort)
}

// PreStop returns the preStop hook, nil when none is set.
func (c *Container) PreStop() *Handler {
	return handlerOf(c.LifecyclePreStopHandlerExec,
		c.LifecyclePreStopHandlerHTTPGetHost, c.LifecyclePreStopHandlerHTTPGetPath, c.LifecyclePreStopHandlerHTTPGetScheme,
		c.LifecyclePreStopHandlerHTTPGetPort, c.LifecyclePreStopHandlerHTTPGetHTTPHeader,
		c.LifecyclePreStopHandlerTCPSocketHost, c.LifecyclePreStopHandlerTCPSocketPort)
}

func handlerOf(exec []string, httpHost, httpPath, httpScheme string, httpPort int, headers []HTTPHeader, tcpHost string, tcpPort int) *Handler {
	h := &Handler{Exec: exec}
	if httpHost != "" || httpPath != "" || httpScheme != "" || httpPort != 0 || len(headers) > 0 {
		h.HTTPGet = &HTTPGetAction{Host: httpHost, Path: httpPath, Port: httpPort, Scheme: httpScheme, HTTPHeader: headers}
	}
	if tcpHost != "" || tcpPort != 0 {
		h.TCPSocket = &TCPSocketAction{Host: tcpHost, Port: tcpPort}
	}
	if h.Exec == nil && h.HTTPGet == nil && h.TCPSocket == nil {
		return nil
	}
	return h
}

// HTTPGetAction is the HTTP form of a lifecycle hook. An empty Host means the
// group's own address.
type HTTPGetAction struct {
	Host       string
	Path       string
	Port       int
	Scheme     string
	HTTPHeader []HTTPHeader
}

// TCPSocketAction is the TCP form of a lifecycle hook.
type TCPSocketAction struct {
	Host string
	Port int
}

// kinds is how many handler types are set.
func (h *Handler) kinds() int {
	n := 0
	if len(h.Exec) > 0 {
		n++
	}
	if h.HTTPGet != nil {
		n++
	}
	if h.TCPSocket != nil {
		n++
	}
	return n
}
