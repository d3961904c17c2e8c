// Command gobench is the client-go side of `cargo xtask bench`: it measures, with client-go
// v0.37 and the clientset, listers and informers that k8s.io/code-generator generated for the Go
// twin of our BitcoinNetwork type, the same things the Rust bench crate measures for our
// informers and kube-rs's reflector, on the same objects in the same devserver.
//
// The Rust harness (bench/src/client_go.rs) starts it once per measurement, interleaved with
// ours and kube-rs's, and reads one JSON object from stdout. Each subcommand is one measurement:
//
//	gobench sync    -kubeconfig K -n N [-namespace NS] [-watchlist=false] [-transform]
//	gobench relist  -kubeconfig K -n N [-namespace NS]  (prints {"synced":...}, waits for a line on stdin)
//	gobench watch   -events FILE -n N [-namespace NS]   (replays a recorded watch stream from memory)
//	gobench queue   -keys K -workers W -passes P
//	gobench latency -kubeconfig K -namespace NS -n M
//	gobench protobuf -kubeconfig K -namespace NS  (built-in kinds through client-go with protobuf bodies)
//
// Every loop is bounded by N or a deadline; the only server is the one in the kubeconfig (the
// harness's devserver, or kube-apiserver from `cargo xtask cluster up`, on 127.0.0.1), or none
// at all for watch and queue.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// namespace holds every benchmark object (as bench/src/fixtures.rs's namespace()): "bench" on
// the devserver, one per run on a real server (-namespace).
var namespace = "bench"

// deadline bounds every wait of a measurement.
const deadline = 5 * time.Minute

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: gobench sync|relist|watch|queue|latency|protobuf [flags]"))
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the server to measure against")
	n := fs.Int("n", 0, "objects (sync, relist), events (watch) or requests per verb (latency)")
	watchList := fs.Bool("watchlist", true, "the WatchListClient feature gate (client-go's default: on)")
	transform := fs.Bool("transform", false, "drop managedFields with an informer transform")
	events := fs.String("events", "", "file with the recorded watch stream (watch)")
	keys := fs.Int("keys", 10000, "distinct keys, each added twice (queue)")
	workers := fs.Int("workers", 1, "worker goroutines (queue)")
	passes := fs.Int("passes", 10, "passes, the fastest kept (queue)")
	ns := fs.String("namespace", namespace, "namespace of the objects (sync, relist, watch) or for those latency creates")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measurement here (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		fail(err)
	}
	namespace = *ns
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	// client-go reads its feature gates from KUBE_FEATURE_* once, on first use: set before any.
	if err := os.Setenv("KUBE_FEATURE_WatchListClient", fmt.Sprint(*watchList)); err != nil {
		fail(err)
	}
	var out any
	var err error
	switch cmd {
	case "sync":
		out, err = runSync(mustConfig(*kubeconfig), *n, *transform)
	case "relist":
		err = runRelist(mustConfig(*kubeconfig), *n)
	case "watch":
		out, err = runWatch(*events, *n)
	case "queue":
		out = runQueue(*keys, *workers, *passes)
	case "latency":
		out, err = runLatency(mustConfig(*kubeconfig), *ns, *n)
	case "protobuf":
		out, err = runProtobuf(mustConfig(*kubeconfig), *ns)
	default:
		err = fmt.Errorf("unknown subcommand %q", cmd)
	}
	if err != nil {
		fail(err)
	}
	if out != nil {
		emit(out)
	}
}

// emit writes one JSON object on its own line of stdout.
func emit(v any) {
	if err := json.NewEncoder(os.Stdout).Encode(v); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "gobench: %v\n", err)
	os.Exit(1)
}

// mustConfig loads the kubeconfig without client-side throttling: client-go's default of 5 QPS
// would measure its rate limiter, not its machinery (our clients have none).
func mustConfig(path string) *rest.Config {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		fail(err)
	}
	cfg.QPS = -1
	return cfg
}

// heapInuse is the bytes in in-use heap spans (MemStats.HeapInuse), read without stopping the
// world: objects plus the unused tail of their spans.
func heapInuse() uint64 {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

// settledHeap collects garbage (twice, so finalizers' frees are in) and returns HeapInuse.
func settledHeap() uint64 {
	runtime.GC()
	runtime.GC()
	return heapInuse()
}
