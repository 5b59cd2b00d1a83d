// render.go - renders a Helm chart the way `helm template` does, without Helm: Go's
// text/template plus the sprig function library (Helm's own engine), with the few functions and
// objects Helm adds implemented here. Built in GOPATH mode against Debian's Go sources
// (golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v3-dev); tools/chart/render runs it.
//
// Usage:
//
//	render --chart DIR [-f VALUES]... [--set a.b=v]... [--release NAME] [--namespace NS]
//	       [--api-versions GROUP/VERSION]... [--include-crds] [--json] [--notes] [--strict]
//
// Output: the rendered documents as YAML separated by "---" with a "# Source:" comment each (as
// `helm template` prints them, in Helm's install order), or with --json one JSON array of
// {"source": ..., "object": ...}. --notes prints the rendered NOTES.txt instead. Every
// rendered document is parsed as YAML here, so a template producing invalid YAML is an error
// (exit status 1, the message names the template).
//
// --strict makes a reference to a value that values.yaml does not define an error (Helm's
// `lint --strict` does the same), so every value a template reads is documented there.
//
// LIMITATION: only the Helm functions this chart uses are provided (include, tpl, toYaml,
// fromYaml, toJson, fromJson, required, fail, lookup returning an empty map); .Files,
// subcharts, values.schema.json and hooks are not implemented. toYaml indents sequences by
// two spaces below their key where Helm's sigs.k8s.io/yaml keeps them level: same data,
// different text.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// apiVersions is .Capabilities.APIVersions; templates call .Has.
type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// Helm's install order (pkg/releaseutil/kind_sorter.go); other kinds come after, in file order.
var installOrder = []string{"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService"}

type doc struct {
	source string
	text   string
	obj    interface{}
	order  int
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "render: "+format+"\n", args...)
	os.Exit(1)
}

func readYAMLMap(path string) map[string]interface{} {
	data, err := os.ReadFile(path)
	if err != nil {
		die("%v", err)
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		die("%s: %v", path, err)
	}
	if out == nil {
		out = map[string]interface{}{}
	}
	return out
}

// mergeValues merges 'over' into 'base' as Helm does: maps merge key by key, anything else
// replaces, and a null in 'over' removes the key.
func mergeValues(base, over map[string]interface{}) map[string]interface{} {
	for k, v := range over {
		if v == nil {
			delete(base, k)
			continue
		}
		om, oIsMap := v.(map[string]interface{})
		bm, bIsMap := base[k].(map[string]interface{})
		if oIsMap && bIsMap {
			base[k] = mergeValues(bm, om)
		} else {
			base[k] = v
		}
	}
	return base
}

// setValue applies one --set a.b.c=value (value parsed as a YAML scalar, as Helm's --set does
// for true/false/numbers).
func setValue(values map[string]interface{}, expr string) {
	eq := strings.IndexByte(expr, '=')
	if eq <= 0 {
		die("--set %q: want key=value", expr)
	}
	var v interface{}
	if err := yaml.Unmarshal([]byte(expr[eq+1:]), &v); err != nil {
		die("--set %q: %v", expr, err)
	}
	keys := strings.Split(expr[:eq], ".")
	m := values
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

func toYAML(v interface{}) (string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	enc.Close()
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// chartObject turns Chart.yaml's keys into Helm's .Chart fields (name -> Name, appVersion ->
// AppVersion).
func chartObject(meta map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range meta {
		out[strings.ToUpper(k[:1])+k[1:]] = v
	}
	for _, k := range []string{"Name", "Version", "AppVersion", "Description", "Type"} {
		if _, ok := out[k]; !ok {
			out[k] = ""
		}
	}
	return out
}

// jsonable converts yaml.v3's decoded values into what encoding/json accepts.
func jsonable(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, x := range t {
			t[k] = jsonable(x)
		}
		return t
	case map[interface{}]interface{}:
		out := map[string]interface{}{}
		for k, x := range t {
			out[fmt.Sprint(k)] = jsonable(x)
		}
		return out
	case []interface{}:
		for i, x := range t {
			t[i] = jsonable(x)
		}
		return t
	}
	return v
}

// splitDocs splits a rendered file into YAML documents, dropping empty ones (Helm does too).
func splitDocs(text string) []string {
	var out []string
	for _, part := range strings.Split("\n"+text, "\n---") {
		trimmed := strings.TrimSpace(part)
		if trimmed == "" {
			continue
		}
		onlyComments := true
		for _, line := range strings.Split(trimmed, "\n") {
			l := strings.TrimSpace(line)
			if l != "" && !strings.HasPrefix(l, "#") {
				onlyComments = false
				break
			}
		}
		if onlyComments {
			continue
		}
		// Drop leading blank lines (left by {{- if }} blocks), keeping the first line's indent.
		for {
			nl := strings.IndexByte(part, '\n')
			if nl < 0 || strings.TrimSpace(part[:nl]) != "" {
				break
			}
			part = part[nl+1:]
		}
		out = append(out, part)
	}
	return out
}

func kindOrder(obj interface{}) int {
	m, _ := obj.(map[string]interface{})
	kind, _ := m["kind"].(string)
	for i, k := range installOrder {
		if k == kind {
			return i
		}
	}
	return len(installOrder)
}

func main() {
	var valueFiles, sets, apis multiFlag
	chartDir := flag.String("chart", "", "chart directory")
	release := flag.String("release", "azdo-runner-operator", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	includeCRDs := flag.Bool("include-crds", false, "also print the files under crds/")
	asJSON := flag.Bool("json", false, "print a JSON array of {source, object}")
	notes := flag.Bool("notes", false, "print the rendered NOTES.txt only")
	strict := flag.Bool("strict", false, "fail on a reference to an undefined value")
	flag.Var(&valueFiles, "f", "values file merged over values.yaml (repeatable)")
	flag.Var(&sets, "set", "a.b.c=value (repeatable)")
	flag.Var(&apis, "api-versions", "extra group/version for .Capabilities.APIVersions")
	flag.Parse()
	if *chartDir == "" || flag.NArg() != 0 {
		die("usage: render --chart DIR [-f FILE]... [--set k=v]... [--release NAME] " +
			"[--namespace NS] [--api-versions G/V]... [--include-crds] [--json] [--notes] [--strict]")
	}

	meta := readYAMLMap(filepath.Join(*chartDir, "Chart.yaml"))
	values := readYAMLMap(filepath.Join(*chartDir, "values.yaml"))
	for _, f := range valueFiles {
		values = mergeValues(values, readYAMLMap(f))
	}
	for _, s := range sets {
		setValue(values, s)
	}
	chart := chartObject(meta)
	chartName, _ := chart["Name"].(string)
	if chartName == "" {
		die("Chart.yaml has no name")
	}

	caps := map[string]interface{}{
		"KubeVersion": map[string]interface{}{"Version": "v1.32.0", "Major": "1", "Minor": "32",
			"GitVersion": "v1.32.0"},
		"APIVersions": append(apiVersions{"v1", "apps/v1", "rbac.authorization.k8s.io/v1",
			"admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1",
			"coordination.k8s.io/v1", "policy/v1", "networking.k8s.io/v1"}, apis...),
		"HelmVersion": map[string]interface{}{"Version": "v3.14.0"},
	}
	top := map[string]interface{}{
		"Values":       values,
		"Chart":        chart,
		"Capabilities": caps,
		"Release": map[string]interface{}{"Name": *release, "Namespace": *namespace,
			"Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
	}

	root := template.New("gotpl")
	if *strict {
		root.Option("missingkey=error")
	} else {
		root.Option("missingkey=zero")
	}
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env") // Helm removes these two: templates must not read the environment
	delete(funcs, "expandenv")
	includeDepth := 0
	funcs["include"] = func(name string, data interface{}) (string, error) {
		includeDepth++
		defer func() { includeDepth-- }()
		if includeDepth > 100 {
			return "", errors.New("include: recursion too deep in " + name)
		}
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.Execute(&buf, data)
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	funcs["toYaml"] = func(v interface{}) string {
		s, err := toYAML(v)
		if err != nil {
			return "" // Helm also swallows the error here
		}
		return s
	}
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		out := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &out); err != nil {
			out["Error"] = err.Error()
		}
		return out
	}
	funcs["fromJson"] = func(s string) map[string]interface{} {
		out := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			out["Error"] = err.Error()
		}
		return out
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	// lookup talks to the cluster in Helm; `helm template` returns an empty map, as here.
	funcs["lookup"] = func(apiVersion, kind, ns, name string) map[string]interface{} {
		return map[string]interface{}{}
	}
	root.Funcs(funcs)

	tplDir := filepath.Join(*chartDir, "templates")
	entries, err := os.ReadDir(tplDir)
	if err != nil {
		die("%v", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(tplDir, e.Name()))
		if err != nil {
			die("%v", err)
		}
		name := chartName + "/templates/" + e.Name()
		if _, err := root.New(name).Parse(string(data)); err != nil {
			die("%v", err)
		}
		names = append(names, name)
	}
	sort.Strings(names)

	render := func(name string) string {
		var buf bytes.Buffer
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"}
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			die("%v", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", "")
	}

	if *notes {
		fmt.Print(render(chartName + "/templates/NOTES.txt"))
		return
	}

	var docs []doc
	addDocs := func(source, text string) {
		for _, d := range splitDocs(text) {
			var obj interface{}
			if err := yaml.Unmarshal([]byte(d), &obj); err != nil {
				die("%s: rendered YAML does not parse: %v\n%s", source, err, d)
			}
			docs = append(docs, doc{source, d, jsonable(obj), kindOrder(obj)})
		}
	}
	if *includeCRDs {
		crds, _ := filepath.Glob(filepath.Join(*chartDir, "crds", "*.yaml"))
		sort.Strings(crds)
		for _, f := range crds {
			data, err := os.ReadFile(f)
			if err != nil {
				die("%v", err)
			}
			addDocs(chartName+"/crds/"+filepath.Base(f), string(data))
		}
	}
	for _, name := range names {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			continue
		}
		addDocs(name, render(name))
	}
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].order < docs[j].order })

	if *asJSON {
		var out []map[string]interface{}
		for _, d := range docs {
			out = append(out, map[string]interface{}{"source": d.source, "object": d.obj})
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", " ")
		if err := enc.Encode(out); err != nil {
			die("%v", err)
		}
		return
	}
	for _, d := range docs {
		fmt.Printf("---\n# Source: %s\n%s\n", d.source, strings.TrimRight(d.text, "\n"))
	}
}
