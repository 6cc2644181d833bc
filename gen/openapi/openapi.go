// Package openapi embeds the OpenAPI (Swagger 2) document generated from the
// contracts by protoc-gen-openapiv2 (pdfqa.swagger.json beside this file).
package openapi

import _ "embed"

// Spec is the merged OpenAPI document of every pdfqa service.
//
//go:embed pdfqa.swagger.json
var Spec []byte
