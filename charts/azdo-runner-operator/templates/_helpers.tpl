{{/*
_helpers.tpl - names, labels and the values every template shares.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "azdo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>" (just the release name when it already contains the chart name), or
fullnameOverride; at most 63 characters because Service names are DNS labels. Suffixed names
(-webhook, -metrics, -state) trim it to 55 first. */}}
{{- define "azdo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The base for suffixed names, short enough for "-metrics" and friends. */}}
{{- define "azdo.base" -}}
{{- include "azdo.fullname" . | trunc 55 | trimSuffix "-" -}}
{{- end -}}

{{- define "azdo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the operator's pods: stable across upgrades. */}}
{{- define "azdo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "azdo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object the chart creates. */}}
{{- define "azdo.labels" -}}
helm.sh/chart: {{ include "azdo.chart" . }}
{{ include "azdo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: azdo-runner-operator
{{- end -}}

{{- define "azdo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "azdo.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "azdo.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Names the operator is told with flags; the RBAC rules restrict to the same names. */}}
{{- define "azdo.webhookConfigName" -}}
{{- include "azdo.fullname" . -}}
{{- end -}}
{{- define "azdo.webhookServiceName" -}}
{{- printf "%s-webhook" (include "azdo.base" .) -}}
{{- end -}}
{{- define "azdo.webhookSecretName" -}}
{{- default (printf "%s-webhook-tls" (include "azdo.base" .)) .Values.webhook.secretName -}}
{{- end -}}
{{- define "azdo.metricsServiceName" -}}
{{- printf "%s-metrics" (include "azdo.base" .) -}}
{{- end -}}
{{- define "azdo.claimName" -}}
{{- default (printf "%s-state" (include "azdo.base" .)) .Values.persistence.existingClaim -}}
{{- end -}}
{{- define "azdo.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace -}}
{{- end -}}

{{/* The rules for what the operator does in the namespaces it manages: watch RunnerPools and
its agent pods and PVCs, create and delete agents and their volumes, read PAT Secrets, record
events on RunnerPools, patch finalizers and status. Bound cluster-wide, or in watchNamespace. */}}
{{- define "azdo.poolRules" -}}
- apiGroups: [""]
  resources: [pods, persistentvolumeclaims]
  verbs: [create, delete, list, watch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [devops.opentools.mf]
  resources: [runnerpools]
  verbs: [list, patch, watch]
- apiGroups: [devops.opentools.mf]
  resources: [runnerpools/status]
  verbs: [patch]
{{- end -}}

{{/* What the webhook certificate store does in the release namespace: create its Secret, then
read and replace only that one. */}}
{{- define "azdo.webhookSecretRules" -}}
- apiGroups: [""]
  resources: [secrets]
  verbs: [create]
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [{{ include "azdo.webhookSecretName" . | quote }}]
  verbs: [get, update]
{{- end -}}

{{/* What leader election does in the Lease's namespace. */}}
{{- define "azdo.leaseRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [create]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [{{ .Values.leaderElection.leaseName | quote }}]
  verbs: [get, update]
{{- end -}}

{{/* Checks of value combinations the operator could not run with; rendered by the
Deployment so that a bad combination stops `helm install` with a message. */}}
{{- define "azdo.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicaCount > 1 needs leaderElection.enabled: two active operators would act on the same pools" -}}
{{- end -}}
{{- if not (and (ge (int .Values.metrics.port) 1) (le (int .Values.metrics.port) 65535)) -}}
{{- fail "metrics.port must be 1-65535: the liveness and readiness probes use it" -}}
{{- end -}}
{{- if and .Values.webhook.enabled (not (and (ge (int .Values.webhook.port) 1) (le (int .Values.webhook.port) 65535))) -}}
{{- fail "webhook.port must be 1-65535 (set webhook.enabled false to turn the webhooks off)" -}}
{{- end -}}
{{- if and .Values.webhook.enabled (eq (int .Values.webhook.port) (int .Values.metrics.port)) -}}
{{- fail "webhook.port and metrics.port must differ" -}}
{{- end -}}
{{- if not (has .Values.webhook.failurePolicy (list "Fail" "Ignore")) -}}
{{- fail "webhook.failurePolicy must be Fail or Ignore" -}}
{{- end -}}
{{- if not (has .Values.logLevel (list "debug" "info" "warn" "error")) -}}
{{- fail "logLevel must be debug, info, warn or error" -}}
{{- end -}}
{{- end -}}
