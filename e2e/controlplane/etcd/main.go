// Command etcd is etcd's own server main, built from the pinned go.etcd.io/etcd/server
// module so the control plane needs no downloaded release binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
