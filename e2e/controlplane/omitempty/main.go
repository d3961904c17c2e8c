// Command omitempty prints, for every struct type reachable from the built-in kinds that
// kube-apiserver registers, the scalar fields that are not pointers and carry `omitempty`:
// Go's protobuf encoding always sends those (zero or not), while their JSON leaves a zero out.
// A server converting protobuf into JSON needs the list to drop the same zeros; pointer fields
// are only sent when set, so a zero there is meaningful and kept.
//
// Output: one line per field, `<module>/<Type> <jsonName>`, where module is the Go package path
// without its `k8s.io/` prefix (as k8s-openapi and k8s-pb name their modules), sorted.
package main

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	seen := map[reflect.Type]bool{}
	lines := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		module := strings.TrimPrefix(t.PkgPath(), "k8s.io/")
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				walk(f.Type)
				// An embedded struct's fields are inline in JSON: record them under this type too.
				inner := f.Type
				for inner.Kind() == reflect.Pointer {
					inner = inner.Elem()
				}
				if inner.Kind() == reflect.Struct {
					for j := 0; j < inner.NumField(); j++ {
						record(lines, module, t.Name(), inner.Field(j))
					}
				}
				continue
			}
			if name == "-" {
				continue
			}
			_ = opts
			record(lines, module, t.Name(), f)
			walk(f.Type)
		}
	}
	for _, t := range scheme.Scheme.AllKnownTypes() {
		walk(t)
	}
	out := make([]string, 0, len(lines))
	for l := range lines {
		out = append(out, l)
	}
	sort.Strings(out)
	for _, l := range out {
		fmt.Fprintln(os.Stdout, l)
	}
}

// record notes field f of module/typeName when it is a non-pointer scalar with omitempty.
func record(lines map[string]bool, module, typeName string, f reflect.StructField) {
	name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" || name == "-" || !strings.Contains(","+opts+",", ",omitempty,") {
		return
	}
	switch f.Type.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		lines[fmt.Sprintf("%s/%s %s", module, typeName, name)] = true
	}
}
