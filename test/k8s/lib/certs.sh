# A throwaway PKI made with openssl at every `up` (EC P-256 keys: instant).
# shellcheck shell=bash

# EC keys are instant to make; the two serving certificates use RSA, which every TLS client
# speaks (small embedded ones such as busybox's included).
pki_key() {
  case "$1" in
    apiserver | kubelet-serving) openssl genrsa -out "$PKI/$1.key" 2048 2>/dev/null ;;
    *) openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$1.key" 2>/dev/null ;;
  esac
}

pki_ca() {
  pki_key ca
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=molt-k8s-ca" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$PKI/ca.crt" 2>/dev/null
}

# pki_cert NAME SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
pki_cert() {
  local name="$1" subj="$2" usage="$3" sans="${4:-}" ext="$PKI/$1.ext"
  pki_key "$name"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [[ -n "$sans" ]] && echo "subjectAltName=$sans"
  } >"$ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" 2>/dev/null |
    openssl x509 -req -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
      -days 3650 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$ext"
}

make_pki() {
  mkdir -p "$PKI" && chmod 700 "$PKI"
  pki_ca
  local api_sans="IP:$NODE_IP,IP:127.0.0.1,IP:$SERVICE_API_IP,DNS:localhost,DNS:$NODE_NAME,DNS:kubernetes"
  api_sans+=",DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  pki_cert apiserver "/CN=kube-apiserver" serverAuth "$api_sans"
  pki_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  pki_cert admin "/O=system:masters/CN=molt-admin" clientAuth
  pki_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
  pki_cert scheduler "/CN=system:kube-scheduler" clientAuth
  pki_cert kube-proxy "/CN=system:kube-proxy" clientAuth
  pki_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  pki_cert kubelet-serving "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE_NAME"
  pki_key sa
  openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
}

b64() { base64 -w0 <"$1"; }

# write_kubeconfig FILE CERT_NAME
write_kubeconfig() {
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: molt-k8s
  cluster:
    server: https://$NODE_IP:$APISERVER_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$PKI/$2.crt")
    client-key-data: $(b64 "$PKI/$2.key")
contexts:
- name: molt-k8s
  context: {cluster: molt-k8s, user: $2}
current-context: molt-k8s
KC
  chmod 600 "$1"
}

make_kubeconfigs() {
  local n
  for n in controller-manager scheduler kube-proxy kubelet; do write_kubeconfig "$CONF/$n.kubeconfig" "$n"; done
  write_kubeconfig "$KUBECONFIG_ADMIN" admin
}
