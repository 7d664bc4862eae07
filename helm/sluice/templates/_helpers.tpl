{{- define "sluice.name" -}}
{{- .Chart.Name -}}
{{- end -}}

{{- define "sluice.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sluice.labels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sluice.selector" -}}
app.kubernetes.io/name: {{ include "sluice.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "sluice.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "sluice.databaseSecret" -}}
{{- if .Values.database.existingSecret -}}
{{- .Values.database.existingSecret -}}
{{- else -}}
{{- printf "%s-database" (include "sluice.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* DATABASE_URL from its Secret: the Sluice containers and the migration job. */}}
{{- define "sluice.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "sluice.databaseSecret" . }}
      key: {{ .Values.database.existingSecretKey }}
{{- end -}}

{{/* Environment shared by every Sluice container. */}}
{{/* The URL SDKs are told to use: publicUrl, else the ingress host (https when it has TLS). */}}
{{- define "sluice.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{ .Values.publicUrl }}
{{- else if and .Values.ingress.enabled .Values.ingress.host -}}
{{ ternary "https" "http" (gt (len .Values.ingress.tls) 0) }}://{{ .Values.ingress.host }}
{{- end -}}
{{- end -}}

{{- define "sluice.env" -}}
{{ include "sluice.databaseEnv" . }}
- name: SLUICE_WORKSPACE
  value: /etc/sluice/sluice.yaml
- name: SLUICE_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: SLUICE_TRUST_PROXY
  value: {{ .Values.trustProxy | quote }}
- name: PORT
  value: "8080"
{{- with (include "sluice.publicUrl" .) }}
- name: SLUICE_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- if .Values.admin.existingSecret }}
- name: SLUICE_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.admin.existingSecret }}
      key: {{ .Values.admin.existingSecretKey }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* One Sluice pod spec; `roles` picks the stages it runs. */}}
{{- define "sluice.pod" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "sluice.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  annotations:
    # Pods restart when the workspace changes (Sluice also reloads it live).
    checksum/workspace: {{ include (print $root.Template.BasePath "/configmap-workspace.yaml") $root | sha256sum }}
spec:
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  containers:
    - name: sluice
      image: {{ include "sluice.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: ["start", "--roles", {{ .roles | quote }}]
      env:
        {{- include "sluice.env" $root | nindent 8 }}
      {{- with $root.Values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: http
          containerPort: 8080
      livenessProbe:
        httpGet: { path: /health, port: http }
        periodSeconds: 10
        failureThreshold: 3
      readinessProbe:
        httpGet: { path: /ready, port: http }
        periodSeconds: 5
        failureThreshold: 2
      resources:
        {{- toYaml .resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: workspace
          mountPath: /etc/sluice
          readOnly: true
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: workspace
      configMap:
        name: {{ include "sluice.fullname" $root }}-workspace
    - name: tmp
      emptyDir: {}
  {{- with $root.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
