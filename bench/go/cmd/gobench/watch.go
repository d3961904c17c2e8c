package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	v1 "bitcoincontroller.bench/gotwin/apis/bitcoincontroller/v1"
	"bitcoincontroller.bench/gotwin/generated/clientset/versioned"
	informers "bitcoincontroller.bench/gotwin/generated/informers/externalversions"
)

// watchResult is the throughput of one recorded stream through an informer to its handler.
type watchResult struct {
	EventsPerSecond float64 `json:"events_per_second"`
	// Updates is how many update notifications the handler got (client-go delivers every one).
	Updates int64 `json:"updates"`
}

// replay answers as an API server would that holds nothing and has the recorded events to
// send on the first watch: lists are empty, the first watch streams the file (after the
// end-of-initial-events bookmark when it is a streaming list, as client-go's default asks), and
// later watches stay open and silent until the client gives up. Served from memory, as the
// Rust side's tower service, so the figure is the client's cost per event, not a socket's.
type replay struct {
	events []byte
	served atomic.Bool
}

const group = "bitcoincontroller.christianb93.github.com/v1"

func (r *replay) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	var body io.ReadCloser
	switch {
	case q.Get("watch") != "true" && q.Get("watch") != "1":
		list := `{"apiVersion":"` + group + `","kind":"BitcoinNetworkList","metadata":{"resourceVersion":"1"},"items":[]}`
		body = io.NopCloser(bytes.NewReader([]byte(list)))
	case !r.served.Swap(true):
		var prefix []byte
		if q.Get("sendInitialEvents") == "true" {
			prefix = []byte(`{"type":"BOOKMARK","object":{"apiVersion":"` + group + `","kind":"BitcoinNetwork",` +
				`"metadata":{"resourceVersion":"1","annotations":{"k8s.io/initial-events-end":"true"}}}}` + "\n")
		}
		body = io.NopCloser(io.MultiReader(bytes.NewReader(prefix), bytes.NewReader(r.events)))
	default:
		pr, pw := io.Pipe()
		go func() {
			<-req.Context().Done()
			pw.CloseWithError(req.Context().Err())
		}()
		body = pr
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": []string{"application/json"}},
		Body:       body,
		Request:    req,
	}, nil
}

// runWatch replays the harness's recorded stream (n MODIFIED events over 1,000 objects, then
// `last` ADDED) through the generated informer; done when the handler sees `last`.
func runWatch(path string, n int) (watchResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return watchResult{}, err
	}
	cfg := &rest.Config{Host: "http://replay.invalid", Transport: &replay{events: data}, QPS: -1}
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		return watchResult{}, err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(namespace))
	informer := factory.Bitcoincontroller().V1().BitcoinNetworks().Informer()
	done := make(chan struct{})
	var once sync.Once
	var updates atomic.Int64
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if o, ok := obj.(*v1.BitcoinNetwork); ok && o.Name == "last" {
				once.Do(func() { close(done) })
			}
		},
		UpdateFunc: func(_, _ any) { updates.Add(1) },
	}); err != nil {
		return watchResult{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	factory.Start(ctx.Done())
	select {
	case <-done:
	case <-time.After(deadline):
		return watchResult{}, fmt.Errorf("the handler never saw the last event")
	}
	secs := time.Since(start).Seconds()
	want := min(1000, n) + 1
	if got := len(informer.GetStore().ListKeys()); got != want {
		return watchResult{}, fmt.Errorf("client-go cache holds %d objects, expected %d", got, want)
	}
	cancel()
	factory.Shutdown()
	return watchResult{EventsPerSecond: float64(n) / secs, Updates: updates.Load()}, nil
}
