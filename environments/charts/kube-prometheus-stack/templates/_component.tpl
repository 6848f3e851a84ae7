{{- define "standin.component" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  namespace: {{ .ns }}
  labels: {app.kubernetes.io/name: {{ .app }}, app.kubernetes.io/instance: {{ .release }}}
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: {{ .app }}, app.kubernetes.io/instance: {{ .release }}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: {{ .app }}, app.kubernetes.io/instance: {{ .release }}}
    spec:
      containers:
        - name: {{ .app }}
          image: {{ .image }}
          args: {{ toJson .args }}
          ports: [{name: http, containerPort: {{ .port }}}]
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  namespace: {{ .ns }}
  labels: {app.kubernetes.io/name: {{ .app }}, app.kubernetes.io/instance: {{ .release }}}
spec:
  selector: {app.kubernetes.io/name: {{ .app }}, app.kubernetes.io/instance: {{ .release }}}
  ports: [{name: http, port: {{ .servicePort }}, targetPort: {{ .port }}}]
{{- end -}}
