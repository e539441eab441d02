// Package manifests checks deploy/: every Kubernetes manifest decodes into
// its k8s.io/api type with no unknown field, and deploy/compose.yaml loads
// with the Compose specification's own loader. It lives in a module of its
// own so that these dependencies stay out of authd's go.mod.
package manifests
