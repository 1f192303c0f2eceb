# Start each component and wait until it answers.
# shellcheck shell=bash

start_etcd() {
  mkdir -p "$RUN/etcd" && chmod 700 "$RUN/etcd"
  start_daemon etcd etcd --name molt-k8s --data-dir "$RUN/etcd" \
    --listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
    --listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
    --initial-cluster "molt-k8s=http://$ETCD_PEER" --listen-metrics-urls "" \
    --quota-backend-bytes 2147483648 --snapshot-count 10000
  wait_up etcd 60 etcd_healthy
}

etcd_healthy() { curl -fsS --max-time 5 "http://$ETCD_CLIENT/health" 2>/dev/null | grep -q '"health":"true"'; }

# GODEBUG=tlssha1=1: busybox's built-in TLS client (wget in test pods) sends no
# signature_algorithms extension, so per RFC 5246 it only accepts SHA-1 handshake signatures,
# which Go refuses by default since 1.25. This test-only apiserver accepts them.
start_apiserver() {
  start_daemon kube-apiserver env GODEBUG=tlssha1=1 "$K8S_BIN/kube-apiserver" \
    --etcd-servers "http://$ETCD_CLIENT" \
    --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$APISERVER_PORT" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true --profiling=false --event-ttl 30m
  wait_up kube-apiserver 120 api_ready
}

api_ready() {
  curl -fsS --max-time 10 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://$NODE_IP:$APISERVER_PORT/readyz" 2>/dev/null | grep -q ok
}

start_controller_manager() {
  start_daemon kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$CONF/controller-manager.kubeconfig" --secure-port 0 --leader-elect=false \
    --use-service-account-credentials=true --service-account-private-key-file "$PKI/sa.key" \
    --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --allocate-node-cidrs=true --cluster-cidr "$POD_CIDR" --node-cidr-mask-size 24 \
    --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false
}

start_scheduler() {
  start_daemon kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$CONF/scheduler.kubeconfig" --secure-port 0 --leader-elect=false --profiling=false
}

start_containerd() {
  start_daemon containerd containerd --config "$CONF/containerd.toml"
  wait_up containerd 60 ctr --address "$CTRD_SOCK" version
  load_image "$(pause_image_tar)"
}

start_kubelet() {
  mkdir -p "$RUN/kubelet" "$RUN/pod-logs"
  start_daemon kubelet "$K8S_BIN/kubelet" --config "$CONF/kubelet.yaml" \
    --kubeconfig "$CONF/kubelet.kubeconfig" --root-dir "$RUN/kubelet" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v 1
}

start_kube_proxy() {
  start_daemon kube-proxy "$K8S_BIN/kube-proxy" --config "$CONF/kube-proxy.yaml"
}
