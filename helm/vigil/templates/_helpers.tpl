{{/*
_helpers.tpl - names, labels and the sensor configuration shared by the
templates. The configuration is built here once so the ConfigMap and the
pod's checksum annotation can never disagree.
*/}}

{{- define "vigil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, or the release alone when it already says vigil. */}}
{{- define "vigil.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "vigil.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that never change for a release: the DaemonSet selector. */}}
{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigil.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vigil.labels" -}}
helm.sh/chart: {{ include "vigil.chart" . }}
{{ include "vigil.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: sensor
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "vigil.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vigil.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* A digest pins the image exactly; otherwise the tag, else appVersion. */}}
{{- define "vigil.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/* Where the ConfigMap is mounted and where custom policies land in it. */}}
{{- define "vigil.configDir" -}}/etc/vigil{{- end }}

{{- define "vigil.tokenDir" -}}/etc/vigil-secrets{{- end }}

{{- define "vigil.policyPath" -}}
{{- printf "%s/policies/%s.yaml" (include "vigil.configDir" .root) .name }}
{{- end }}

{{/*
The sensor's vigil.yaml: .Values.config as given, plus what only the chart
knows (the listen port, the token file, the custom policy files). toYaml
sorts keys, so an unchanged release renders byte for byte the same.
*/}}
{{- define "vigil.sensorConfig" -}}
{{- $cfg := deepCopy (default dict .Values.config) }}
{{- $http := default dict (get $cfg "http") }}
{{- $_ := set $http "listen" (printf "0.0.0.0:%d" (int .Values.port)) }}
{{- if .Values.apiTokenSecret }}
{{- $_ = set $http "token_file" (printf "%s/token" (include "vigil.tokenDir" .)) }}
{{- end }}
{{- $_ = set $cfg "http" $http }}
{{- $policies := default dict (get $cfg "policies") }}
{{- $files := list }}
{{- range (default list (get $policies "files")) }}
{{- $files = append $files . }}
{{- end }}
{{- range $name, $_ := .Values.customPolicies }}
{{- $files = append $files (include "vigil.policyPath" (dict "root" $ "name" $name)) }}
{{- end }}
{{- $_ = set $policies "files" $files }}
{{- $_ = set $cfg "policies" $policies }}
{{- toYaml $cfg }}
{{- end }}

{{/* Custom policy names become file names: keep them to a safe alphabet. */}}
{{- define "vigil.checkPolicyNames" -}}
{{- range $name, $_ := .Values.customPolicies }}
{{- if not (regexMatch "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$" $name) }}
{{- fail (printf "customPolicies: %q is not a valid policy name (letters, digits, '.', '_', '-'; at most 63)" $name) }}
{{- end }}
{{- end }}
{{- end }}
