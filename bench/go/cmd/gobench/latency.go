package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	v1 "bitcoincontroller.bench/gotwin/apis/bitcoincontroller/v1"
	"bitcoincontroller.bench/gotwin/generated/clientset/versioned"
)

// latencies summarizes one verb's request times, in seconds.
type latencies struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	Mean float64 `json:"mean"`
}

// latencyResult is create, get and update through the generated typed client.
type latencyResult struct {
	Create latencies `json:"create"`
	Get    latencies `json:"get"`
	Update latencies `json:"update"`
}

func summarize(d []time.Duration) latencies {
	if len(d) == 0 {
		return latencies{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	at := func(q float64) float64 { return d[min(len(d)-1, int(q*float64(len(d))))].Seconds() }
	return latencies{P50: at(0.5), P99: at(0.99), Mean: (sum / time.Duration(len(d))).Seconds()}
}

// network is bench/src/fixtures.rs's network(i), in namespace ns.
func network(i int, ns string) *v1.BitcoinNetwork {
	name := fmt.Sprintf("net-%06d", i)
	return &v1.BitcoinNetwork{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: ns,
			Labels: map[string]string{
				"app.kubernetes.io/name":     "bitcoin",
				"app.kubernetes.io/instance": name,
				"team":                       fmt.Sprintf("team-%d", i%17),
			},
			Annotations: map[string]string{
				"kubectl.kubernetes.io/last-applied-configuration": fmt.Sprintf(
					`{"apiVersion":"%s","kind":"BitcoinNetwork","metadata":{"name":"%s","namespace":"%s"},"spec":{"nodes":3}}`,
					group, name, namespace),
			},
		},
		Spec: v1.BitcoinNetworkSpec{Nodes: 3, Secret: name + "-rpc"},
	}
}

// runLatency creates n networks one after the other, then gets each, then updates each
// (spec.nodes 3 → 4), timing every request.
func runLatency(cfg *rest.Config, ns string, n int) (latencyResult, error) {
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		return latencyResult{}, err
	}
	c := cs.BitcoincontrollerV1().BitcoinNetworks(ns)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var create, get, update []time.Duration
	for i := range n {
		t := time.Now()
		if _, err := c.Create(ctx, network(i, ns), metav1.CreateOptions{}); err != nil {
			return latencyResult{}, err
		}
		create = append(create, time.Since(t))
	}
	got := make([]*v1.BitcoinNetwork, n)
	for i := range n {
		t := time.Now()
		o, err := c.Get(ctx, fmt.Sprintf("net-%06d", i), metav1.GetOptions{})
		if err != nil {
			return latencyResult{}, err
		}
		get = append(get, time.Since(t))
		got[i] = o
	}
	for _, o := range got {
		o.Spec.Nodes = 4
		t := time.Now()
		if _, err := c.Update(ctx, o, metav1.UpdateOptions{}); err != nil {
			return latencyResult{}, err
		}
		update = append(update, time.Since(t))
	}
	return latencyResult{Create: summarize(create), Get: summarize(get), Update: summarize(update)}, nil
}
