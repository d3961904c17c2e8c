package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// protobufResult is what `gobench protobuf` prints: what client-go's typed clientset, configured
// for protobuf as kube-controller-manager is, read back through the server, and the media types
// of the replies it got.
type protobufResult struct {
	ConfigMapData      string `json:"configMapData"`
	DeploymentReplicas int32  `json:"deploymentReplicas"`
	ScaleSelector      string `json:"scaleSelector"`
	Listed             int    `json:"listed"`
	InformerSaw        bool   `json:"informerSaw"`
	ProtobufReplies    int64  `json:"protobufReplies"`
	WatchStreams       int64  `json:"protobufWatchStreams"`
	OtherReplies       int64  `json:"otherReplies"`
}

// replyCounter counts replies by Content-Type.
type replyCounter struct {
	next                   http.RoundTripper
	protobuf, watch, other atomic.Int64
}

func (c *replyCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		switch ct := resp.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "application/vnd.kubernetes.protobuf;stream=watch"):
			c.watch.Add(1)
		case strings.HasPrefix(ct, "application/vnd.kubernetes.protobuf"):
			c.protobuf.Add(1)
		default:
			c.other.Add(1)
		}
	}
	return resp, err
}

// runProtobuf drives built-in kinds through client-go with protobuf bodies: create, get, list,
// scale, and an informer (list and watch) that must see an object created after it synced.
func runProtobuf(cfg *rest.Config, ns string) (protobufResult, error) {
	var res protobufResult
	counter := &replyCounter{}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter }
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pb-first"}, Data: map[string]string{"mode": "fast"}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return res, fmt.Errorf("create configmap: %w", err)
	}
	got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pb-first", metav1.GetOptions{})
	if err != nil {
		return res, fmt.Errorf("get configmap: %w", err)
	}
	res.ConfigMapData = got.Data["mode"]
	labels := map[string]string{"app": "pb"}
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "pb-web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return res, fmt.Errorf("create deployment: %w", err)
	}
	scale, err := cs.AppsV1().Deployments(ns).GetScale(ctx, "pb-web", metav1.GetOptions{})
	if err != nil {
		return res, fmt.Errorf("get scale: %w", err)
	}
	res.ScaleSelector = scale.Status.Selector
	scale.Spec.Replicas = 3
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "pb-web", scale, metav1.UpdateOptions{}); err != nil {
		return res, fmt.Errorf("update scale: %w", err)
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "pb-web", metav1.GetOptions{})
	if err != nil {
		return res, fmt.Errorf("get deployment: %w", err)
	}
	res.DeploymentReplicas = *dep.Spec.Replicas

	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	informer := factory.Core().V1().ConfigMaps().Informer()
	saw := make(chan struct{}, 1)
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if c, ok := obj.(*corev1.ConfigMap); ok && c.Name == "pb-second" {
			select {
			case saw <- struct{}{}:
			default:
			}
		}
	}}); err != nil {
		return res, err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return res, fmt.Errorf("the ConfigMap informer did not sync")
	}
	res.Listed = len(informer.GetStore().ListKeys())
	second := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pb-second"}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, second, metav1.CreateOptions{}); err != nil {
		return res, fmt.Errorf("create second configmap: %w", err)
	}
	select {
	case <-saw:
		res.InformerSaw = true
	case <-ctx.Done():
	}
	cancel()
	factory.Shutdown()
	res.ProtobufReplies, res.WatchStreams, res.OtherReplies = counter.protobuf.Load(), counter.watch.Load(), counter.other.Load()
	return res, nil
}
