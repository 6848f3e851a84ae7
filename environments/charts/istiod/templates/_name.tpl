{{- define "istiod.name" -}}
{{- if .Values.revision }}istiod-{{ .Values.revision }}{{ else }}istiod{{ end -}}
{{- end -}}
{{- define "istiod.injector" -}}
{{- if .Values.revision }}istio-sidecar-injector-{{ .Values.revision }}{{ else }}istio-sidecar-injector{{ end -}}
{{- end -}}
