/**
 * The parts of Kubernetes objects molt reads and writes, as plain JSON shapes (what the API
 * sends; timestamps are RFC 3339 strings). Only the fields molt uses are typed; anything else
 * passes through untouched.
 */

/** An owner reference (garbage collection follows it). */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Standard object metadata. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

/** A list answer. */
export interface KubeList<T extends KubeObject> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** A container of a pod template (only what molt sets). */
export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  command?: string[];
  args?: string[];
  env?: { name: string; value: string }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  startupProbe?: Probe;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  [key: string]: unknown;
}

/** A probe of a container. */
export interface Probe {
  exec?: { command: string[] };
  tcpSocket?: { port: number };
  httpGet?: { port: number; path: string };
  periodSeconds?: number;
  failureThreshold?: number;
  timeoutSeconds?: number;
  initialDelaySeconds?: number;
}

/** A pod spec (only what molt sets or reads). */
export interface PodSpec {
  containers: Container[];
  volumes?: Record<string, unknown>[];
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  automountServiceAccountToken?: boolean;
  enableServiceLinks?: boolean;
  [key: string]: unknown;
}

/** The state of one container in a pod's status. */
export interface ContainerStatus {
  name: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  image: string;
  /** What the runtime ran: `repo@sha256:…` for a pulled image, an image ID for a loaded one. */
  imageID?: string;
  state?: {
    waiting?: { reason?: string; message?: string };
    running?: { startedAt?: string };
    terminated?: { exitCode: number; reason?: string; message?: string };
  };
  lastState?: ContainerStatus['state'];
}

/** A pod condition. */
export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** A pod. */
export interface Pod extends KubeObject {
  spec?: PodSpec;
  status?: {
    phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
    conditions?: PodCondition[];
    containerStatuses?: ContainerStatus[];
    podIP?: string;
    reason?: string;
    message?: string;
  };
}

/** A StatefulSet (apps/v1). */
export interface StatefulSet extends KubeObject {
  spec?: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Record<string, string> };
    updateStrategy?: { type: 'OnDelete' | 'RollingUpdate'; rollingUpdate?: Record<string, unknown> };
    podManagementPolicy?: 'OrderedReady' | 'Parallel';
    minReadySeconds?: number;
    template: { metadata: ObjectMeta; spec: PodSpec };
    volumeClaimTemplates?: KubeObject[];
    persistentVolumeClaimRetentionPolicy?: { whenDeleted: string; whenScaled: string };
  };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    observedGeneration?: number;
  };
}

/** A Lease (coordination.k8s.io/v1). */
export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}
