{{/* Labels shared by every object; component is the service name. */}}
{{- define "pdfqa.labels" -}}
app.kubernetes.io/name: pdfqa
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version }}
{{- end -}}

{{/* Selector labels of one component. */}}
{{- define "pdfqa.selector" -}}
app.kubernetes.io/name: pdfqa
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* etcd client endpoints, comma separated. */}}
{{- define "pdfqa.etcdEndpoints" -}}
{{- if .Values.etcd.enabled -}}
{{- $eps := list -}}
{{- range $i := until (int .Values.etcd.replicas) -}}
{{- $eps = append $eps (printf "%s-etcd-%d.%s-etcd-headless.%s.svc:2379" $.Release.Name $i $.Release.Name $.Release.Namespace) -}}
{{- end -}}
{{- join "," $eps -}}
{{- else -}}
{{- required "etcd.endpoints is required when etcd.enabled is false" .Values.etcd.endpoints -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret holding API keys. */}}
{{- define "pdfqa.secretName" -}}
{{- default (printf "%s-api-keys" .Release.Name) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Whether a component runs more than one replica at some point. */}}
{{- define "pdfqa.replicated" -}}
{{- if or (gt (int .svc.replicas) 1) (gt (int .svc.autoscaling.maxReplicas) 1) -}}true{{- end -}}
{{- end -}}

{{/* Whether a component is scaled by KEDA (room to scale). */}}
{{- define "pdfqa.keda" -}}
{{- if and .root.Values.keda.enabled (gt (int .svc.autoscaling.maxReplicas) (int .svc.autoscaling.minReplicas)) -}}true{{- end -}}
{{- end -}}

{{/* Whether a component is scaled by the CPU HPA fallback. */}}
{{- define "pdfqa.hpa" -}}
{{- if and .root.Values.hpaFallback.enabled (not (include "pdfqa.keda" .)) (gt (int .svc.autoscaling.maxReplicas) (int .svc.autoscaling.minReplicas)) -}}true{{- end -}}
{{- end -}}
