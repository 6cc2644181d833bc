// Package platform is the mesh plumbing every pdfqa service shares: etcd
// discovery, breaker/retry/deadline client interceptors, server bootstrap,
// telemetry and configuration. Subpackages hold the pieces.
package platform
