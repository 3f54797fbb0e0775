//go:build leci_node

// Package node makes a leci host a node of a Kubernetes cluster: a
// virtual-kubelet provider registers the node with this host's capacity,
// keeps its lease, runs every Pod bound to it as a leci group (package
// kube's Pod mapping), reports the Pods' status back, and serves the
// kubelet API (logs, exec) to the cluster's API server.
package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"strconv"
	"time"

	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	vkapi "github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"leci/api"
)

// GPUResource is the extended resource a node's CDI devices are counted as.
const GPUResource = "nvidia.com/gpu"

// Taint keeps Pods that do not ask for a leci node off it: the cluster's
// DaemonSets (kube-proxy, CNI agents) want host namespaces, which a group
// never has. Pods bound by spec.nodeName are not held back by it.
var Taint = corev1.Taint{Key: "virtual-kubelet.io/provider", Value: "leci", Effect: corev1.TaintEffectNoSchedule}

// Config is one leci node.
type Config struct {
	// Kubeconfig is the file with the cluster's address and this node's
	// credentials.
	Kubeconfig string
	// NodeName is the node's name in the cluster.
	NodeName string
	// Address is the node's InternalIP, where the API server reaches the
	// kubelet API; KubeletListen the address that API listens on
	// (default ADDRESS:10250).
	Address       string
	KubeletListen string
	// TLSCert and TLSKey are the kubelet API's certificate; without them a
	// self-signed one is made (the API server does not check it unless told
	// to with --kubelet-certificate-authority).
	TLSCert, TLSKey string
	// ClientCA holds the CAs whose client certificates may use the kubelet
	// API: the API server's; default the CA of the kubeconfig's cluster.
	ClientCA string
	// Capacity: CPUs, memory bytes, Pods and GPUs (CDI devices).
	CPUs    int
	Memory  int64
	MaxPods int
	GPUs    int
	Version string
	Runtime string
	Groups  Groups
	Root    string
	Check   func(*api.CreateContainerGroupRequest) error
	Log     *slog.Logger
}

// DefaultMaxPods is a kubelet's default --max-pods.
const DefaultMaxPods = 110

// DefaultKubeletPort is the kubelet API's usual port.
const DefaultKubeletPort = 10250

// Run registers the node and runs its Pods until ctx ends. The groups keep
// running after: a leci started again takes them back (and deletes those
// whose Pod was deleted meanwhile).
func Run(ctx context.Context, cfg Config) error {
	if cfg.NodeName == "" {
		return errors.New("node: a node name is needed")
	}
	if cfg.Address == "" {
		return errors.New("node: an address is needed")
	}
	listen := cfg.KubeletListen
	if listen == "" {
		listen = net.JoinHostPort(cfg.Address, strconv.Itoa(DefaultKubeletPort))
	}
	_, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("node: kubelet listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 {
		return fmt.Errorf("node: kubelet listen address %q: want HOST:PORT with a port", listen)
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("node: kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("node: kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	tlsConfig, err := kubeletTLS(cfg, restConfig.TLSClientConfig.CAData, restConfig.TLSClientConfig.CAFile)
	if err != nil {
		return err
	}
	ctx = vklog.WithLogger(ctx, vkslog.FromSlog(cfg.Log.With("node", cfg.NodeName)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The Pods bound to this node, and the objects they may name.
	pods := informers.NewSharedInformerFactoryWithOptions(client, time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
		}))
	objects := informers.NewSharedInformerFactoryWithOptions(client, time.Minute)
	podInformer := pods.Core().V1().Pods()
	configMaps := objects.Core().V1().ConfigMaps()
	secrets := objects.Core().V1().Secrets()
	services := objects.Core().V1().Services()
	p := newProvider(ctx, cfg, configMaps.Lister(), secrets.Lister())

	spec := nodeObject(cfg, port)
	nc, err := vknode.NewNodeController(vknode.NewNaiveNodeProvider(), spec, client.CoreV1().Nodes(),
		vknode.WithNodeEnableLeaseV1(client.CoordinationV1().Leases(corev1.NamespaceNodeLease), vknode.DefaultLeaseDuration))
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	events := record.NewBroadcaster()
	defer events.Shutdown()
	events.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: client.CoreV1().Events(corev1.NamespaceAll)})
	pc, err := vknode.NewPodController(vknode.PodControllerConfig{
		PodClient:         client.CoreV1(),
		EventRecorder:     events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: cfg.NodeName + "/pod-controller", Host: cfg.NodeName}),
		Provider:          p,
		PodInformer:       podInformer,
		ConfigMapInformer: configMaps,
		SecretInformer:    secrets,
		ServiceInformer:   services,
	})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}

	// The kubelet API: the API server comes here for logs and exec.
	l, err := tls.Listen("tcp", listen, tlsConfig)
	if err != nil {
		return fmt.Errorf("node: kubelet API: %w", err)
	}
	srv := &http.Server{
		Handler: vkapi.PodHandler(vkapi.PodHandlerConfig{
			RunInContainer:    p.RunInContainer,
			AttachToContainer: p.AttachToContainer,
			PortForward:       p.PortForward,
			GetContainerLogs:  p.GetContainerLogs,
			GetPods:           p.GetPods,
			GetPodsFromKubernetes: func(context.Context) ([]*corev1.Pod, error) {
				return podInformer.Lister().List(labels.Everything())
			},
			GetStatsSummary:    p.GetStatsSummary,
			GetMetricsResource: p.GetMetricsResource,
		}, false),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}
	go srv.Serve(l)
	defer srv.Close()

	cfg.Log.Info("joining the cluster", "node", cfg.NodeName, "server", restConfig.Host, "kubelet", listen)
	pods.Start(ctx.Done())
	objects.Start(ctx.Done())
	go pc.Run(ctx, max(2, goruntime.NumCPU()))
	defer func() {
		cancel()
		<-pc.Done()
	}()
	select {
	case <-ctx.Done():
		return nil
	case <-pc.Done():
		return pc.Err()
	case <-pc.Ready():
	}
	go nc.Run(ctx)
	defer func() {
		cancel()
		<-nc.Done()
	}()
	select {
	case <-ctx.Done():
		return nil
	case <-nc.Done():
		return nc.Err()
	case <-nc.Ready():
		cfg.Log.Info("node ready", "node", cfg.NodeName)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-nc.Done():
		return nc.Err()
	case <-pc.Done():
		return pc.Err()
	}
}

// nodeObject is what the node tells the cluster of itself: Ready from the
// start (the engine is up before the node registers), its capacity, its
// address and its kubelet API's port.
func nodeObject(cfg Config, port int) *corev1.Node {
	now := metav1.Now()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: cfg.NodeName, Labels: map[string]string{
			"type":                             "virtual-kubelet",
			"kubernetes.io/role":               "agent",
			"kubernetes.io/hostname":           cfg.NodeName,
			"kubernetes.io/os":                 "linux",
			"kubernetes.io/arch":               goruntime.GOARCH,
			"node.kubernetes.io/instance-type": "leci",
		}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{Taint}},
		Status: corev1.NodeStatus{
			Phase: corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "leci is ready",
					LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now},
			},
		},
	}
	maxPods := cfg.MaxPods
	if maxPods <= 0 {
		maxPods = DefaultMaxPods
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(cfg.CPUs), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(cfg.Memory, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
	}
	if cfg.GPUs > 0 {
		capacity[GPUResource] = *resource.NewQuantity(int64(cfg.GPUs), resource.DecimalSI)
	}
	n.Status.Capacity = capacity
	n.Status.Allocatable = capacity.DeepCopy()
	hostname, _ := os.Hostname()
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: cfg.Address}}
	if hostname != "" {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: hostname})
	}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	n.Status.NodeInfo = corev1.NodeSystemInfo{
		OperatingSystem:         "linux",
		Architecture:            goruntime.GOARCH,
		KubeletVersion:          "leci-" + cfg.Version,
		ContainerRuntimeVersion: "leci://" + cfg.Runtime,
	}
	return n
}

// kubeletTLS is the kubelet API's TLS: its certificate, and client
// certificates required and checked against ClientCA (or the cluster's
// CA), so that only the API server (or another holder of such a
// certificate) runs commands in the Pods.
func kubeletTLS(cfg Config, clusterCA []byte, clusterCAFile string) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err = tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("node: kubelet certificate: %w", err)
		}
	} else {
		cert, err = selfSigned(cfg.NodeName, cfg.Address, time.Now())
		if err != nil {
			return nil, err
		}
	}
	caPEM := clusterCA
	caFile := cfg.ClientCA
	if caFile == "" {
		caFile = clusterCAFile
	}
	if caFile != "" {
		if caPEM, err = os.ReadFile(caFile); err != nil {
			return nil, fmt.Errorf("node: client CA: %w", err)
		}
	}
	pool := x509.NewCertPool()
	if len(caPEM) == 0 || !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("node: no CA to check the API server's client certificate with: give --kubelet-client-ca (the kubeconfig names none)")
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
