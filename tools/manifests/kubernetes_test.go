package manifests

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	kustomize "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const kubernetesDir = repoRoot + "/deploy/kubernetes"

// Every file decodes into its API type, and kustomization.yaml lists them all.
func TestKubernetes_EveryManifestDecodesStrictly(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(kubernetesDir, "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifests []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(file)
		if name == "kustomization.yaml" {
			continue
		}
		manifests = append(manifests, name)
		objects, err := decodeManifests(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if len(objects) == 0 {
			t.Errorf("%s holds no manifest", name)
		}
	}
	k := readKustomization(t)
	if got := sorted(k.Resources); !slices.Equal(got, sorted(manifests)) {
		t.Errorf("kustomization.yaml lists %v, the folder holds %v", got, sorted(manifests))
	}
}

func readKustomization(t *testing.T) kustomize.Kustomization {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(kubernetesDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatal(err)
	}
	var k kustomize.Kustomization
	if err := decodeStrict(js, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return k
}

// A misspelt field must fail the check, or the test above proves nothing.
func TestKubernetes_RefusesAnUnknownField(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(kubernetesDir, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	typo := strings.Replace(string(data), "readinessProbe:", "readinesProbe:", 1)
	if typo == string(data) {
		t.Fatal("no readinessProbe to misspell")
	}
	if _, err := decodeManifests([]byte(typo)); err == nil || !strings.Contains(err.Error(), "readinesProbe") {
		t.Fatalf("a misspelt field decoded: %v", err)
	}
}

// built is what `kubectl apply -k deploy/kubernetes` sends, decoded strictly.
type built struct {
	deployment appsv1.Deployment
	job        batchv1.Job
	service    corev1.Service
	pdb        policyv1.PodDisruptionBudget
	hpa        autoscalingv2.HorizontalPodAutoscaler
	configMaps map[string]corev1.ConfigMap
	// networkPolicy admits the API and metrics ports only from named peers.
	networkPolicy networkingv1.NetworkPolicy
}

func build(t *testing.T) built {
	t.Helper()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), kubernetesDir)
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	b := built{configMaps: map[string]corev1.ConfigMap{}}
	seen := map[string]int{}
	for _, r := range resources.Resources() {
		js, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		obj, err := decodeObject(js)
		if err != nil {
			t.Fatalf("%s: %v", r.CurId(), err)
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			b.deployment = *o
		case *batchv1.Job:
			b.job = *o
		case *corev1.Service:
			b.service = *o
		case *policyv1.PodDisruptionBudget:
			b.pdb = *o
		case *autoscalingv2.HorizontalPodAutoscaler:
			b.hpa = *o
		case *corev1.ConfigMap:
			b.configMaps[o.Name] = *o
		case *networkingv1.NetworkPolicy:
			b.networkPolicy = *o
		default:
			t.Fatalf("unexpected kind %T", obj)
		}
		seen[r.GetKind()]++
	}
	for _, kind := range []string{"Deployment", "Job", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "NetworkPolicy"} {
		if seen[kind] != 1 {
			t.Fatalf("kustomize build gives %d %s, want 1", seen[kind], kind)
		}
	}
	return b
}

func TestKubernetes_Deployment(t *testing.T) {
	b := build(t)
	d := b.deployment
	c := authdContainer(t, d.Spec.Template.Spec)
	probe := func(name string, p *corev1.Probe, want string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe: %+v, want GET %s on the http port", name, p, want)
		}
	}
	probe("startup", c.StartupProbe, "/health")
	probe("liveness", c.LivenessProbe, "/health")
	probe("readiness", c.ReadinessProbe, "/readiness")
	if d.Spec.Replicas != nil {
		t.Error("the Deployment sets replicas, which the HorizontalPodAutoscaler owns")
	}
	if s := d.Spec.Template.Spec.EnableServiceLinks; s == nil || *s {
		t.Error("enableServiceLinks must be false: a Service named authd would set AUTHD_PORT and others")
	}
	// The budget of bench/results.md: 64 MiB + 19 MiB per hash slot.
	env := containerEnv(t, c, b.configMaps)
	const mib = 1 << 20
	budget := int64(64*mib + 19*mib*3)
	if env["AUTHD_HASH_CONCURRENCY"] != "3" {
		t.Errorf("AUTHD_HASH_CONCURRENCY = %q; the memory limit is sized for 3 slots", env["AUTHD_HASH_CONCURRENCY"])
	}
	if lim := c.Resources.Limits.Memory().Value(); lim < budget || c.Resources.Requests.Memory().Value() > lim {
		t.Errorf("memory limit %d under the budget of %d bytes, or under the request", lim, budget)
	}
	if c.Resources.Requests.Cpu().IsZero() {
		t.Error("no CPU request: the HorizontalPodAutoscaler scales on its utilisation")
	}
	if env["AUTHD_ENV"] != "production" || env["AUTHD_AUTO_MIGRATE"] != "false" || env["AUTHD_TRUSTED_PROXIES"] == "" {
		t.Errorf("want production, AUTHD_AUTO_MIGRATE=false (the Job migrates) and AUTHD_TRUSTED_PROXIES for the ingress; got %q, %q, %q",
			env["AUTHD_ENV"], env["AUTHD_AUTO_MIGRATE"], env["AUTHD_TRUSTED_PROXIES"])
	}
	if !strings.HasPrefix(env["AUTHD_PUBLIC_URL"], "https://") {
		t.Errorf("AUTHD_PUBLIC_URL = %q, production wants https", env["AUTHD_PUBLIC_URL"])
	}
	for _, name := range []string{"DATABASE_URL", "REDIS_URL", "AUTHD_SMTP_URL"} {
		if e := envVar(c, name); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s should come from a Secret", name)
		}
	}
}

func TestKubernetes_MigrationJob(t *testing.T) {
	b := build(t)
	spec := b.job.Spec.Template.Spec
	c := authdContainer(t, spec)
	if got := strings.Join(append(slices.Clone(c.Command), c.Args...), " "); !strings.HasSuffix(got, "migrate up") {
		t.Errorf("the Job runs %q, want authd migrate up", got)
	}
	if spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q", spec.RestartPolicy)
	}
	// `authd migrate` validates the whole production configuration.
	env := containerEnv(t, c, b.configMaps)
	if e := envVar(c, "DATABASE_URL"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || env["AUTHD_ENV"] != "production" {
		t.Error("the Job needs the production configuration and DATABASE_URL from the Secret")
	}
}

// Both pods run authd non-root on a read-only root filesystem with the key
// files mounted where AUTHD_JWT_KEYS_FILE and AUTHD_DATA_KEYS_FILE say, each
// copied with mode 0400 (production refuses a group-readable key file).
func TestKubernetes_PodsAreLockedDown(t *testing.T) {
	b := build(t)
	for name, spec := range map[string]corev1.PodSpec{"Deployment": b.deployment.Spec.Template.Spec, "Job": b.job.Spec.Template.Spec} {
		pod := spec.SecurityContext
		if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot || pod.RunAsUser == nil || *pod.RunAsUser != 65532 {
			t.Errorf("%s: the pod must run as non-root 65532, the image's user", name)
		}
		if a := spec.AutomountServiceAccountToken; a == nil || *a {
			t.Errorf("%s: authd needs no Kubernetes API token", name)
		}
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			s := c.SecurityContext
			if s == nil || s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem ||
				s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation ||
				s.Capabilities == nil || !slices.Contains(s.Capabilities.Drop, "ALL") {
				t.Errorf("%s, container %s: want a read-only root, no privilege escalation, every capability dropped", name, c.Name)
			}
		}
		c := authdContainer(t, spec)
		env := containerEnv(t, c, b.configMaps)
		for _, variable := range []string{"AUTHD_JWT_KEYS_FILE", "AUTHD_DATA_KEYS_FILE"} {
			keys := env[variable]
			mount := mountOf(c, path.Dir(keys))
			if keys == "" || mount == nil || !mount.ReadOnly {
				t.Errorf("%s: %s %q is not in a read-only mount of the authd container", name, variable, keys)
				continue
			}
			if !slices.ContainsFunc(spec.InitContainers, func(ic corev1.Container) bool {
				return slices.Contains(ic.Command, keys) && slices.Contains(ic.Command, "0400") && mountOf(ic, path.Dir(keys)) != nil
			}) {
				t.Errorf("%s: no init container installs %s (%s) with mode 0400", name, keys, variable)
			}
		}
		if env["AUTHD_JWT_KEYS_FILE"] != "" && path.Dir(env["AUTHD_JWT_KEYS_FILE"]) == path.Dir(env["AUTHD_DATA_KEYS_FILE"]) {
			t.Errorf("%s: the signing keys and the data keys share a directory; each has its own volume", name)
		}
		if len(spec.InitContainers) != 2 {
			t.Errorf("%s: %d init containers, want the two that install the key files", name, len(spec.InitContainers))
		}
		for _, v := range spec.Volumes {
			if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o007 != 0) {
				t.Errorf("%s: Secret volume %s is readable by others", name, v.Name)
			}
		}
	}
}

func TestKubernetes_ServiceBudgetAndAutoscalerFindTheDeployment(t *testing.T) {
	b := build(t)
	podLabels := labels.Set(b.deployment.Spec.Template.Labels)
	if sel := labels.SelectorFromSet(b.service.Spec.Selector); !sel.Matches(podLabels) {
		t.Error("the Service does not select authd's pods")
	}
	if sel := b.pdb.Spec.Selector; sel == nil || !labels.SelectorFromSet(sel.MatchLabels).Matches(podLabels) {
		t.Error("the PodDisruptionBudget does not select authd's pods")
	}
	if labels.SelectorFromSet(b.service.Spec.Selector).Matches(labels.Set(b.job.Spec.Template.Labels)) &&
		b.job.Spec.Template.Labels["app.kubernetes.io/component"] == "" {
		t.Error("the Service would send traffic to the migration Job")
	}
	c := authdContainer(t, b.deployment.Spec.Template.Spec)
	for _, p := range b.service.Spec.Ports {
		if !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.TargetPort.String() }) {
			t.Errorf("Service port %s targets %s, which authd does not declare", p.Name, p.TargetPort.String())
		}
		if p.TargetPort.String() == "metrics" || p.TargetPort.IntValue() == 9090 {
			t.Error("the Service publishes the private metrics port")
		}
	}
	ref := b.hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != b.deployment.Name {
		t.Errorf("the autoscaler scales %s %s", ref.Kind, ref.Name)
	}
	if len(b.hpa.Spec.Metrics) != 1 || b.hpa.Spec.Metrics[0].Resource == nil || b.hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
		t.Error("the autoscaler should scale on CPU")
	}
	if m := b.hpa.Spec.MinReplicas; m == nil || *m < 2 || b.pdb.Spec.MinAvailable == nil || b.pdb.Spec.MinAvailable.IntValue() >= int(*m) {
		t.Error("want at least 2 replicas and a budget that lets a drain proceed")
	}
}

// authdContainer is the container running the authd image.
func authdContainer(t *testing.T, spec corev1.PodSpec) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Image == "authd" || strings.HasPrefix(c.Image, "authd:") {
			return c
		}
	}
	t.Fatalf("no container runs the authd image")
	return corev1.Container{}
}

// containerEnv is a container's environment as authd sees it: its
// ConfigMaps, then its env, every name checked against server/config.
// Values from Secrets are left empty.
func containerEnv(t *testing.T, c corev1.Container, configMaps map[string]corev1.ConfigMap) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Fatalf("container %s: envFrom other than a ConfigMap (its names could not be checked)", c.Name)
		}
		cm, ok := configMaps[from.ConfigMapRef.Name]
		if !ok {
			t.Fatalf("container %s reads ConfigMap %s, which is not in the kustomization", c.Name, from.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	checkVariables(t, "container "+c.Name, mapKeys(env))
	return env
}

func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func mountOf(c corev1.Container, dir string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].MountPath == dir {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

// The policy selects authd's pods and opens each of their ports to one
// peer only: pod IPs are reachable from the whole cluster otherwise.
func TestKubernetes_NetworkPolicyOpensEachPortToOnePeer(t *testing.T) {
	b := build(t)
	p := b.networkPolicy
	pods := b.deployment.Spec.Template.Labels
	for k, v := range p.Spec.PodSelector.MatchLabels {
		if pods[k] != v {
			t.Errorf("the policy selects %s=%s, the pods are labelled %v", k, v, pods)
		}
	}
	if len(p.Spec.PodSelector.MatchLabels) == 0 {
		t.Error("the policy selects every pod of the namespace")
	}
	opened := map[string]int{}
	for _, rule := range p.Spec.Ingress {
		if len(rule.From) == 0 {
			t.Errorf("a rule admits every peer: %+v", rule)
		}
		for _, port := range rule.Ports {
			opened[port.Port.String()]++
		}
	}
	for _, port := range []string{"http", "metrics"} {
		if opened[port] != 1 {
			t.Errorf("port %s is opened by %d rules, want 1", port, opened[port])
		}
	}
}
