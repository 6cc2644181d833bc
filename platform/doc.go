// Package platform is the mesh plumbing every pdfqa service shares: etcd
// discovery, breaker/retry/deadline client interceptors, server bootstrap,
// telemetry, configuration and child-process supervision (proc).
// Subpackages hold the pieces.
package platform
