package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"bitcoincontroller.bench/gotwin/generated/clientset/versioned"
	informers "bitcoincontroller.bench/gotwin/generated/informers/externalversions"
)

// streamSeconds bounds a streaming list's watch in the relist measurement: it must outlast
// sending the initial events, and it delays the relist by at most that much.
const streamSeconds = 10

// relistResult is the heap a relist costs above the synced cache.
type relistResult struct {
	// Extra is the highest HeapInuse seen during the relist minus the synced level (after GC):
	// what a controller must provision on top of its cache. Garbage the collector has not yet
	// reclaimed counts, as it occupies memory.
	Extra uint64 `json:"extra"`
	// Retained is the synced cache's HeapInuse (after GC) over the level before the informer.
	Retained uint64 `json:"retained"`
}

// runRelist syncs an informer whose watches time out after a second, prints {"synced": n},
// then samples the heap until the harness has forced a relist (a compaction behind the
// informer's resourceVersion, so its next watch gets 410 Expired) and the relist has replaced
// the cached objects. Like the Rust side, it waits a second more for the last buffers to go.
func runRelist(cfg *rest.Config, n int) error {
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		return err
	}
	before := settledHeap()
	// Short watches (as the Rust side's watcher timeout(1)), so the informer meets the
	// compaction soon. With WatchList the initial stream goes on as the watch, so it ends after
	// streamSeconds (long enough for its initial events); later watches after a second.
	short := func(o *metav1.ListOptions) {
		if !o.AllowWatchBookmarks {
			return
		}
		t := int64(1)
		if o.SendInitialEvents != nil {
			t = streamSeconds
		}
		o.TimeoutSeconds = &t
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithNamespace(namespace), informers.WithTweakListOptions(short))
	informer := factory.Bitcoincontroller().V1().BitcoinNetworks().Informer()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	factory.Start(ctx.Done())
	if !informer.HasSynced() {
		factory.WaitForCacheSync(ctx.Done())
	}
	if got := len(informer.GetStore().ListKeys()); got != n {
		return fmt.Errorf("client-go cache holds %d objects, expected %d", got, n)
	}
	time.Sleep(200 * time.Millisecond)
	synced := settledHeap()
	key := namespace + "/net-000001"
	old, _, _ := informer.GetStore().GetByKey(key)
	if old == nil {
		return fmt.Errorf("%s is not cached", key)
	}

	var peak atomic.Uint64
	peak.Store(synced)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if v := heapInuse(); v > peak.Load() {
				peak.Store(v)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	emit(map[string]int{"synced": n})
	// The harness answers with a line once it has forced the relist.
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the harness: %w", err)
	}
	replacedBy := time.Now().Add(2 * time.Minute)
	for {
		cur, _, _ := informer.GetStore().GetByKey(key)
		if cur != nil && cur != old {
			break
		}
		if time.Now().After(replacedBy) {
			close(stop)
			return fmt.Errorf("client-go did not relist")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second)
	close(stop)
	<-sampled
	extra := peak.Load() - synced
	cancel()
	factory.Shutdown()
	emit(relistResult{Extra: extra, Retained: synced - min(synced, before)})
	return nil
}
