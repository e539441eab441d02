package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// scheme knows the kinds deploy/kubernetes may use; any other kind fails.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		policyv1.AddToScheme, autoscalingv2.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// documentSeparator splits a multi-document YAML file.
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeManifests decodes every document of a YAML file into the k8s.io/api
// type its apiVersion and kind name.
func decodeManifests(data []byte) ([]runtime.Object, error) {
	var objects []runtime.Object
	for _, doc := range documentSeparator.Split(string(data), -1) {
		js, err := yaml.YAMLToJSONStrict([]byte(doc)) // duplicate keys are errors too
		if err != nil {
			return nil, err
		}
		if string(js) == "null" { // only comments
			continue
		}
		obj, err := decodeObject(js)
		if err != nil {
			return nil, err
		}
		objects = append(objects, obj)
	}
	return objects, nil
}

// decodeObject decodes one manifest, as JSON, into its typed object.
func decodeObject(js []byte) (runtime.Object, error) {
	var meta metav1.TypeMeta
	if err := json.Unmarshal(js, &meta); err != nil {
		return nil, err
	}
	gvk := meta.GroupVersionKind()
	obj, err := scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("apiVersion %q kind %q: %w", meta.APIVersion, meta.Kind, err)
	}
	if err := decodeStrict(js, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", gvk.Kind, err)
	}
	return obj, nil
}

// decodeStrict decodes JSON into out, refusing any field out's type lacks:
// the API server would drop such a field (a typo such as readinesProbe)
// without a word.
func decodeStrict(js []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the object")
	}
	return nil
}
