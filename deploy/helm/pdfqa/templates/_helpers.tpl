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

{{/* Whether the shared store (PostgreSQL) is configured: state is then off the pods. */}}
{{- define "pdfqa.store" -}}
{{- if or .Values.postgres.cnpg.enabled .Values.postgres.dsn .Values.postgres.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* The blob bucket every replica shares with the store (PDFQA_BLOBS). */}}
{{- define "pdfqa.blobsURL" -}}
{{- if .Values.blobs.url -}}
{{- .Values.blobs.url -}}
{{- else if .Values.blobs.sharedVolume.enabled -}}
file:///blobs?create_dir=1&metadata=skip&no_tmp_dir=1
{{- end -}}
{{- end -}}

{{/* The services whose state is pod-local without the store. */}}
{{- define "pdfqa.stateful" -}}
{{- if has . (list "retrieval" "agents" "inference" "trainer") -}}true{{- end -}}
{{- end -}}

{{/*
Refuses values that would give wrong answers: a stateful service with more
than one replica and no shared store (each replica would answer from its own
files), or a store without a blob bucket every replica reaches.
*/}}
{{- define "pdfqa.validate" -}}
{{- $store := include "pdfqa.store" . -}}
{{- $why := dict "retrieval" "a document uploaded through one replica would not be found through another" "agents" "GetRun would miss the runs asked on another replica" "inference" "LoadAdapter would reach one replica of N" "trainer" "jobs and checkpoints would live on one replica's disk" -}}
{{- range $name, $svc := .Values.services -}}
{{- if and (include "pdfqa.stateful" $name) (include "pdfqa.replicated" (dict "svc" $svc)) (not $store) -}}
{{- fail (printf "services.%s: replicas %v / autoscaling.maxReplicas %v need the shared store (%s): set postgres.dsn, postgres.existingSecret or postgres.cnpg.enabled, and blobs.url or blobs.sharedVolume.enabled" $name $svc.replicas $svc.autoscaling.maxReplicas (get $why $name)) -}}
{{- end -}}
{{- end -}}
{{- if and $store (not (include "pdfqa.blobsURL" .)) -}}
{{- fail "postgres: the shared store needs a blob bucket every replica reaches for uploaded PDFs, checkpoints and adapters: set blobs.url (s3://BUCKET?endpoint=…&region=…) or blobs.sharedVolume.enabled (a ReadWriteMany volume)" -}}
{{- end -}}
{{- if and .Values.blobs.url .Values.blobs.sharedVolume.enabled -}}
{{- fail "blobs: set blobs.url or blobs.sharedVolume.enabled, not both" -}}
{{- end -}}
{{- if and .Values.blobs.url (not (regexMatch "^(s3|file)://[^?]+" .Values.blobs.url)) -}}
{{- fail (printf "blobs.url %q: want s3://BUCKET?endpoint=…&region=… (or file:///dir on a volume every pod mounts)" .Values.blobs.url) -}}
{{- end -}}
{{- if and (or .Values.blobs.url .Values.blobs.sharedVolume.enabled) (not $store) -}}
{{- fail "blobs: a shared blob bucket is used only with the shared store: set postgres.dsn, postgres.existingSecret or postgres.cnpg.enabled" -}}
{{- end -}}
{{- end -}}

{{/* The Secret prefix of the certificates: <prefix>-<service>, -etcd, -client. */}}
{{- define "pdfqa.tlsPrefix" -}}
{{- default (printf "%s-tls" .Release.Name) .Values.tls.secretPrefix -}}
{{- end -}}

{{- define "pdfqa.validateTLS" -}}
{{- if .Values.tls.secretName -}}
{{- fail "tls.secretName (one certificate mounted into every pod) is gone: each service has its own Secret, <tls.secretPrefix>-<service>; set tls.secretPrefix, or tls.certManager.enabled to have cert-manager issue them" -}}
{{- end -}}
{{- if and .Values.tls.enabled .Values.tls.certManager.enabled (not .Values.tls.certManager.issuerRef.name) -}}
{{- fail "tls.certManager.issuerRef.name is required when tls.certManager.enabled: a CA issuer, so that each Secret carries ca.crt" -}}
{{- end -}}
{{- end -}}
