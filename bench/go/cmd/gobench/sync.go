package main

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"bitcoincontroller.bench/gotwin/generated/clientset/versioned"
	informers "bitcoincontroller.bench/gotwin/generated/informers/externalversions"
)

// syncResult is one initial sync: time to a synced cache and the heap it keeps.
type syncResult struct {
	Seconds float64 `json:"seconds"`
	// Retained is HeapInuse after GC with the synced informer alive, minus before it existed.
	Retained uint64 `json:"retained"`
	Objects  int    `json:"objects"`
}

// dropManagedFields is the informer transform client-go's documentation recommends for
// controllers that never read managedFields: the cached copy does not keep them.
func dropManagedFields(obj any) (any, error) {
	if a, err := meta.Accessor(obj); err == nil {
		a.SetManagedFields(nil)
	}
	return obj, nil
}

// runSync starts the generated factory's BitcoinNetwork informer and waits for its cache, as a
// controller does before its workers start.
func runSync(cfg *rest.Config, n int, transform bool) (syncResult, error) {
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		return syncResult{}, err
	}
	before := settledHeap()
	start := time.Now()
	opts := []informers.SharedInformerOption{informers.WithNamespace(namespace)}
	if transform {
		opts = append(opts, informers.WithTransform(dropManagedFields))
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, opts...)
	informer := factory.Bitcoincontroller().V1().BitcoinNetworks()
	informer.Informer()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return syncResult{}, fmt.Errorf("informer for %v did not sync", typ)
		}
	}
	secs := time.Since(start).Seconds()
	got := len(informer.Informer().GetStore().ListKeys())
	if got != n {
		return syncResult{}, fmt.Errorf("client-go cache holds %d objects, expected %d", got, n)
	}
	if transform {
		if err := checkNoManagedFields(informer.Informer().GetStore()); err != nil {
			return syncResult{}, err
		}
	}
	after := settledHeap()
	// The factory and its cache stay reachable until here.
	cancel()
	factory.Shutdown()
	return syncResult{Seconds: secs, Retained: after - min(after, before), Objects: got}, nil
}

func checkNoManagedFields(store cache.Store) error {
	for _, o := range store.List() {
		if a, err := meta.Accessor(o); err == nil && len(a.GetManagedFields()) > 0 {
			return fmt.Errorf("the transform left managedFields on %s", a.GetName())
		}
	}
	return nil
}
