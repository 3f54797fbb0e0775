package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"leci/host"
	"leci/internal/registries"
	"leci/runtime"
	"leci/server"
	"leci/store"
)

// defaultListen is where the daemon listens unless told otherwise, and where
// the client commands look for it.
const defaultListen = "unix:///run/leci/leci.sock"

type daemonOptions struct {
	config         string
	listen         []string
	accessKeys     []string
	accessKeyFiles []string
	metricsListen  string
	// groupMetricsInterval and groupMetricsHistory are how often each
	// group's usage is sampled for DescribeContainerGroupMetric, and how
	// long the samples are kept.
	groupMetricsInterval time.Duration
	groupMetricsHistory  time.Duration
	tlsCert              string
	tlsKey               string
	insecureTCP          bool
	registry             registryOptions
	node                 nodeOptions
}

// daemonConfig is the daemon's configuration file (YAML).
type daemonConfig struct {
	// Listen holds unix:///path and tcp://host:port addresses.
	Listen     []string          `yaml:"listen"`
	AccessKeys []daemonAccessKey `yaml:"accessKeys"`
	// AccessKeyFiles are files of ID:SECRET lines, as --access-key-file.
	AccessKeyFiles []string `yaml:"accessKeyFiles"`
	// MetricsListen, TLSCert, TLSKey and InsecureTCP are the flags of the
	// same names, which win when given.
	MetricsListen string `yaml:"metricsListen"`
	TLSCert       string `yaml:"tlsCert"`
	TLSKey        string `yaml:"tlsKey"`
	InsecureTCP   bool   `yaml:"insecureTCP"`
	// Runtime and DockerHost are --runtime and --docker-host, which win
	// when given (see daemonRuntimeSettings).
	Runtime    string `yaml:"runtime"`
	DockerHost string `yaml:"dockerHost"`
	// Registries configures registry hosts for pulls, by host (see
	// registryOptions.load).
	Registries map[string]registries.Host `yaml:"registries"`
	// AllowPrivileged is --allow-privileged (either one enables).
	AllowPrivileged bool `yaml:"allowPrivileged"`
}

type daemonAccessKey struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"`
}

func newDaemonCommand(g *globalOptions) *cobra.Command {
	var opts daemonOptions
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Serve the ECI OpenAPI for this host's container groups",
		Long: `Serve Alibaba Cloud's ECI OpenAPI (version 2018-08-08, RPC style) so that the
official SDKs, the aliyun CLI and leci's own client commands (create, ps,
describe, logs, exec, delete) manage container groups on this host.

Listeners are given with --listen, repeatable (default ` + defaultListen + `):
  unix:///PATH        a unix socket of mode 0600; requests need no signature
  tcp://HOST:PORT     every request must be signed (v1 HMAC-SHA1 or v3
                      ACS3-HMAC-SHA256) with a configured AccessKey, /metrics
                      included
A TCP listener needs at least one AccessKey. With --tls-cert and --tls-key
every TCP listener speaks HTTPS; without them, plain HTTP, which the daemon
serves only on loopback addresses unless --insecure-tcp is given.

AccessKeys (ID:SECRET) come from --access-key-file FILE (one per line, # for
comments), from LECI_ACCESS_KEY (ID:SECRET, several separated by commas: the
variable the client commands sign with), or from the configuration file;
--access-key ID:SECRET works too, but shows the secret to every user of the
host in the process list.

--metrics-listen ADDR serves Prometheus metrics alone, with no signature, on
an address of their own (a scraper cannot sign ECI requests): a unix socket,
or TCP under the same TLS and loopback rules.

--config FILE reads a YAML file with the same settings:
  listen: [unix:///run/leci/leci.sock, tcp://127.0.0.1:8080]
  accessKeys: [{id: LTAIexample, secret: ...}]
  accessKeyFiles: [/etc/leci/access-keys]
  tlsCert: /etc/leci/tls.crt     # with tlsKey: HTTPS on every TCP listener
  tlsKey: /etc/leci/tls.key
  insecureTCP: false             # true allows plain HTTP off loopback
  metricsListen: tcp://127.0.0.1:9100
  runtime: docker                # or containerd, auto (--runtime wins)
  dockerHost: unix:///var/run/docker.sock
  allowPrivileged: false         # as --allow-privileged
  registries:                    # for pulls, where a request says nothing
    registry.example.com:
      mirrors: [https://mirror.example.com, http://127.0.0.1:5000]
      insecure: true             # HTTPS without verifying the certificate
      plainHTTP: false           # http:// instead of https://
      username: user             # or auth: base64 of user:password
      password: secret
A request's ImageRegistryCredential for a registry wins over the
configuration's login, which wins over docker's config.json
($DOCKER_CONFIG/config.json or ~/.docker/config.json: its credential helpers,
credHelpers and credsStore, run as docker runs them, then its auths).
Per-host mirrors, CA files and client certificates also come from
--registry-config-dir, in containerd's hosts.toml layout; the registries:
mirrors are tried before them. leci run and leci image pull read the same
settings (their --config and --registry-config-dir). Logins are never logged.
--listen replaces the file's listen list; --access-key and --access-key-file
add to its keys; the other flags win over the file's settings.

The daemon's state is in <root>/leci.db, locked while it runs: a second daemon
on the same --root stops at once. SIGTERM or SIGINT stops the daemon; the
groups keep running.

--kubeconfig FILE --node-name NAME also joins that Kubernetes cluster as a
node: the Pods bound to it run as this daemon's groups (see the README's
"Join a Kubernetes cluster").`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.node.check(); err != nil {
				return err
			}
			if err := daemonRuntimeSettings(opts.config, g, cmd.Flags().Changed("runtime"), cmd.Flags().Changed("docker-host"), cmd.Flags().Changed("allow-privileged")); err != nil {
				return err
			}
			return daemonAction(cmd.Context(), g, opts, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.config, "config", "", "YAML configuration file (listen, accessKeys)")
	f.StringArrayVar(&opts.listen, "listen", nil, "address to serve on: unix:///PATH or tcp://HOST:PORT (repeatable; default "+defaultListen+")")
	f.StringArrayVar(&opts.accessKeys, "access-key", nil, "AccessKey ID:SECRET accepted on TCP listeners (repeatable; visible in the process list: prefer --access-key-file or LECI_ACCESS_KEY)")
	f.StringArrayVar(&opts.accessKeyFiles, "access-key-file", nil, "file of AccessKey ID:SECRET lines accepted on TCP listeners (repeatable)")
	f.StringVar(&opts.tlsCert, "tls-cert", "", "PEM certificate (chain) the TCP listeners serve HTTPS with; needs --tls-key")
	f.StringVar(&opts.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.BoolVar(&opts.insecureTCP, "insecure-tcp", false, "allow plain HTTP (no --tls-cert) on TCP listeners off loopback")
	f.StringVar(&opts.metricsListen, "metrics-listen", "", "address serving only /metrics, with no signature: unix:///PATH or tcp://HOST:PORT")
	f.DurationVar(&opts.groupMetricsInterval, "group-metrics-interval", runtime.DefaultMetricsInterval, "how often each running group's usage is sampled for DescribeContainerGroupMetric (0: only when asked)")
	f.DurationVar(&opts.groupMetricsHistory, "group-metrics-history", runtime.DefaultMetricsHistory, "how long each group's usage samples are kept for DescribeContainerGroupMetric")
	opts.registry.register(cmd, false)
	g.registerRunnerFlags(cmd)
	opts.node.register(cmd)
	return cmd
}

// listenAddr is one parsed --listen address.
type listenAddr struct {
	network string // "unix" or "tcp"
	address string // a path or host:port
}

func (a listenAddr) String() string { return a.network + "://" + a.address }

// daemonSetup is what the daemon serves, and how, from its configuration
// file and flags.
type daemonSetup struct {
	listen  []listenAddr
	metrics *listenAddr       // --metrics-listen; nil without
	keys    map[string]string // AccessKey id → secret
	tls     *tls.Config       // nil: plain HTTP on TCP
	// warnings are logged once the daemon has its logger.
	warnings []string
}

// daemonSettings merges the configuration file, the flags and
// LECI_ACCESS_KEY, and checks them, before anything is started.
func daemonSettings(opts daemonOptions) (*daemonSetup, error) {
	var cfg daemonConfig
	if opts.config != "" {
		data, err := os.ReadFile(opts.config)
		if err != nil {
			return nil, usageErrorf("read --config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, usageErrorf("config %s: %w", opts.config, err)
		}
	}
	listen := cfg.Listen
	if len(opts.listen) > 0 {
		listen = opts.listen
	}
	if len(listen) == 0 {
		listen = []string{defaultListen}
	}
	keys, err := daemonAccessKeys(cfg, opts)
	if err != nil {
		return nil, err
	}
	setup := &daemonSetup{keys: keys}
	if len(opts.accessKeys) > 0 {
		setup.warnings = append(setup.warnings, "--access-key shows its secret to every user of this host in the process list; prefer --access-key-file or "+envAccessKey)
	}

	certFile, keyFile := cmp.Or(opts.tlsCert, cfg.TLSCert), cmp.Or(opts.tlsKey, cfg.TLSKey)
	if (certFile == "") != (keyFile == "") {
		return nil, usageErrorf("--tls-cert and --tls-key go together")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, usageErrorf("--tls-cert %s, --tls-key %s: %w", certFile, keyFile, err)
		}
		setup.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	insecure := opts.insecureTCP || cfg.InsecureTCP
	// checkTCP refuses plain HTTP off loopback unless asked for.
	checkTCP := func(a listenAddr, what string) error {
		if a.network != "tcp" || setup.tls != nil || loopback(a.address) {
			return nil
		}
		if !insecure {
			return usageErrorf("refusing to serve %s on %s, a non-loopback address, over plain HTTP: give --tls-cert and --tls-key, or --insecure-tcp to allow it", what, a)
		}
		setup.warnings = append(setup.warnings, fmt.Sprintf("serving %s on %s, a non-loopback address, over plain HTTP (--insecure-tcp): anyone on the path reads it", what, a))
		return nil
	}
	for _, l := range listen {
		a, err := parseListen(l)
		if err != nil {
			return nil, err
		}
		if a.network == "tcp" && len(keys) == 0 {
			return nil, usageErrorf("%s needs an AccessKey (--access-key-file, %s or --access-key): every request over TCP must be signed", a, envAccessKey)
		}
		if err := checkTCP(a, "the ECI API"); err != nil {
			return nil, err
		}
		setup.listen = append(setup.listen, a)
	}
	if m := cmp.Or(opts.metricsListen, cfg.MetricsListen); m != "" {
		a, err := parseListen(m)
		if err != nil {
			return nil, err
		}
		if err := checkTCP(a, "metrics"); err != nil {
			return nil, err
		}
		setup.metrics = &a
	}
	return setup, nil
}

// groupMetricsSettings checks --group-metrics-interval and
// --group-metrics-history and turns them into the engine's options, where
// a negative interval is "never in the background".
func groupMetricsSettings(interval, history time.Duration) (time.Duration, time.Duration, error) {
	switch {
	case interval < 0:
		return 0, 0, usageErrorf("--group-metrics-interval %v: want a duration of 0 or more", interval)
	case history <= 0:
		return 0, 0, usageErrorf("--group-metrics-history %v: want a positive duration", history)
	case interval == 0:
		return -1, history, nil
	}
	return interval, history, nil
}

// daemonAccessKeys gathers the AccessKeys of the configuration file, the
// key files, LECI_ACCESS_KEY and --access-key.
func daemonAccessKeys(cfg daemonConfig, opts daemonOptions) (map[string]string, error) {
	keys := map[string]string{}
	add := func(id, secret, from string) error {
		if id == "" || secret == "" {
			return usageErrorf("%s: an access key needs an id and a secret", from)
		}
		if old, ok := keys[id]; ok && old != secret {
			return usageErrorf("%s: access key %s is given twice with different secrets", from, id)
		}
		keys[id] = secret
		return nil
	}
	for i, k := range cfg.AccessKeys {
		if err := add(k.ID, k.Secret, fmt.Sprintf("config accessKeys[%d]", i)); err != nil {
			return nil, err
		}
	}
	for _, file := range append(slices.Clone(cfg.AccessKeyFiles), opts.accessKeyFiles...) {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, usageErrorf("access key file: %w", err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			id, secret, _ := strings.Cut(line, ":")
			if err := add(strings.TrimSpace(id), strings.TrimSpace(secret), fmt.Sprintf("%s line %d (want ID:SECRET)", file, i+1)); err != nil {
				return nil, err
			}
		}
	}
	if env := os.Getenv(envAccessKey); env != "" {
		for _, k := range strings.Split(env, ",") {
			id, secret, _ := strings.Cut(strings.TrimSpace(k), ":")
			if err := add(id, secret, envAccessKey+" (want ID:SECRET[,ID:SECRET...])"); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range opts.accessKeys {
		id, secret, _ := strings.Cut(k, ":")
		if err := add(id, secret, "--access-key (want ID:SECRET)"); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// parseListen reads unix:///path or tcp://host:port.
func parseListen(s string) (listenAddr, error) {
	u, err := url.Parse(s)
	if err != nil {
		return listenAddr{}, usageErrorf("--listen %q: %w", s, err)
	}
	switch u.Scheme {
	case "unix":
		path := u.Path
		if u.Host != "" || !filepath.IsAbs(path) {
			return listenAddr{}, usageErrorf("--listen %q: want unix:///ABSOLUTE/PATH", s)
		}
		return listenAddr{network: "unix", address: path}, nil
	case "tcp":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || (u.Path != "" && u.Path != "/") {
			return listenAddr{}, usageErrorf("--listen %q: want tcp://HOST:PORT", s)
		}
		return listenAddr{network: "tcp", address: u.Host}, nil
	}
	return listenAddr{}, usageErrorf("--listen %q: want unix:///PATH or tcp://HOST:PORT", s)
}

// loopback reports whether a host:port listens on loopback only. An empty
// host (every interface) is not loopback.
func loopback(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// The engine is what the server serves.
var _ server.Groups = (*runtime.Engine)(nil)

func daemonAction(ctx context.Context, g *globalOptions, opts daemonOptions, stderr io.Writer) error {
	setup, err := daemonSettings(opts)
	if err != nil {
		return err
	}
	metricsInterval, metricsHistory, err := groupMetricsSettings(opts.groupMetricsInterval, opts.groupMetricsHistory)
	if err != nil {
		return err
	}
	// Every address served, the metrics one too, is kept out of HostPath
	// volumes.
	addrs := setup.listen
	if setup.metrics != nil {
		addrs = append(slices.Clone(addrs), *setup.metrics)
	}
	denyDaemonPaths(g, addrs, opts.config)
	log := g.logger(stderr)
	for _, w := range setup.warnings {
		log.Warn(w)
	}
	if err := os.MkdirAll(g.root, 0o700); err != nil {
		return fmt.Errorf("create root: %w", err)
	}
	// The store's lock comes first: a second daemon on this root stops
	// here, before it touches anything.
	st, err := store.Open(filepath.Join(g.root, "leci.db"))
	if err != nil {
		return err
	}
	defer st.Close()

	// Listen before anything runs in the background: a busy address fails
	// the daemon before containerd is touched, and connections wait in the
	// backlog until the server is ready.
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for _, a := range addrs {
		l, err := listen(a)
		if err != nil {
			return err
		}
		listeners = append(listeners, l)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go dumpGoroutinesOnSignal(ctx, g.root, log)
	cfg := g.hostConfig(runtime.DefaultBackoff)
	cfg.Recorder = storeRecorder{st}
	cfg.MetricsInterval, cfg.MetricsHistory = metricsInterval, metricsHistory
	if cfg.Registries, err = opts.registry.load(opts.config, log); err != nil {
		return err
	}
	if cfg.Trace, err = g.openTrace(); err != nil {
		return err
	}
	defer cfg.Trace.Close()
	env, err := host.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer env.Close()
	if env.Conn != nil {
		// leci's own containerd (with --containerd auto and no system
		// one) is started again should it die; the groups run on meanwhile.
		go env.Conn.SuperviseOwn(ctx)
	}
	// The groups of leci runs that were killed go first: what collectGarbage
	// then sweeps no longer has their containers to spare it.
	if _, err := collectForegroundOrphans(ctx, g.root, env.Engine, nil, log); err != nil {
		log.Warn("delete the groups of killed leci runs", "err", err)
	}
	if err := collectGarbage(ctx, st, env, log); err != nil {
		return err
	}
	if err := adoptGroups(ctx, st, env, log); err != nil {
		return err
	}
	// Stopping the daemon leaves the groups running, for the next one.
	defer env.Engine.Shutdown()

	parts, err := openAPIParts(st, env, log)
	if err != nil {
		return err
	}
	defer parts.Close()
	srv, err := server.New(parts.options(server.Options{
		Groups: env.Engine, Tokens: st, Root: g.root, AccessKeys: setup.keys,
		Check: g.checkLocal, Log: log,
	}))
	if err != nil {
		return err
	}

	errc := make(chan error, len(listeners))
	var servers []*http.Server
	for i, l := range listeners {
		a := addrs[i]
		var handler http.Handler = srv
		what := "the ECI API"
		if setup.metrics != nil && i == len(addrs)-1 {
			handler, what = srv.MetricsHandler(), "metrics"
		}
		var tlsConfig *tls.Config
		scheme := "http"
		if a.network == "tcp" && setup.tls != nil {
			tlsConfig, scheme = setup.tls, "https"
		}
		hs := &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      server.DefaultActionTimeout + 30*time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    1 << 20,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			TLSConfig:         tlsConfig,
		}
		servers = append(servers, hs)
		go func() {
			var err error
			if tlsConfig != nil {
				// ServeTLS clones the configuration and adds HTTP/2.
				err = hs.ServeTLS(l, "", "")
			} else {
				err = hs.Serve(l)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", a, err)
			}
		}()
		fmt.Fprintf(stderr, "leci: serving %s on %s (%s)\n", what, a, scheme)
	}

	nodeDone, err := opts.node.start(ctx, g, env, log)
	if err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	case serveErr = <-nodeDone:
		nodeDone = nil
	}
	// The node stops first: nothing then asks the engine for more.
	stop()
	if nodeDone != nil {
		<-nodeDone
	}
	fmt.Fprintln(stderr, "leci: stopping; the groups keep running")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(shutdownCtx); err != nil {
			hs.Close()
		}
	}
	if err := srv.Close(shutdownCtx); err != nil {
		log.Warn("deletions still running at shutdown were cancelled", "err", err)
	}
	for _, a := range addrs {
		if a.network == "unix" {
			os.Remove(a.address)
		}
	}
	return serveErr
}

// denyDaemonPaths keeps the daemon's own files out of HostPath volumes:
// the directory of each unix socket it serves (a container holding it
// could drive the daemon) and the directory of its configuration file
// (which holds access keys and registry logins).
func denyDaemonPaths(g *globalOptions, addrs []listenAddr, config string) {
	for _, a := range addrs {
		if a.network == "unix" {
			g.hostPathDeny = append(g.hostPathDeny, filepath.Dir(a.address))
		}
	}
	if config != "" {
		if abs, err := filepath.Abs(config); err == nil {
			g.hostPathDeny = append(g.hostPathDeny, filepath.Dir(abs))
		}
	}
}

// listen opens one listener. A unix socket's directory is made if needed;
// a stale socket file (nobody answers on it) is replaced; the socket is
// made mode 0600 before anyone can connect.
func listen(a listenAddr) (net.Listener, error) {
	if a.network == "tcp" {
		l, err := net.Listen("tcp", a.address)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", a, err)
		}
		return l, nil
	}
	if err := os.MkdirAll(filepath.Dir(a.address), 0o755); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", a, err)
	}
	if _, err := os.Lstat(a.address); err == nil {
		if c, err := net.DialTimeout("unix", a.address, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on %s: another process answers on it (another leci daemon?)", a)
		}
		if err := os.Remove(a.address); err != nil {
			return nil, fmt.Errorf("listen on %s: remove stale socket: %w", a, err)
		}
	}
	// The umask makes the socket 0600 from the start; it is process-wide,
	// which is harmless here at start-up.
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", a.address)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", a, err)
	}
	if err := os.Chmod(a.address, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("listen on %s: %w", a, err)
	}
	return l, nil
}
