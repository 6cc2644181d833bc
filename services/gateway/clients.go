package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"

	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/registry"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
	"github.com/pdfqa/pdfqa/services/gateway/mcptools"
	"github.com/pdfqa/pdfqa/services/gateway/openai"
)

// MCPPath is where the gateway serves the MCP tools (streamable HTTP).
const MCPPath = "/mcp"

// Settings are the gateway's own settings.
type Settings struct {
	// APIKeys admit callers of the OpenAI-compatible API and the MCP tools;
	// empty: open, like the REST API (until identity lands for all of it).
	APIKeys []string
	// MaxUploadBytes is the mesh's one upload limit (the composition root
	// sets it from PDFQA_MAX_UPLOAD_BYTES): a streamed upload past it is
	// cut off with 413. 0: retrieval's own check only.
	MaxUploadBytes int64
}

// Read reads the gateway's settings through r.
func Read(r *config.Reader) Settings {
	keys := r.String(config.Setting{Section: "gateway", Env: "PDFQA_GATEWAY_API_KEYS", Secret: true,
		Doc: "comma-separated API keys the OpenAI-compatible API (/openai/v1) and MCP (/mcp) require as a bearer token (unset: open)"}, "")
	var s Settings
	for _, k := range strings.Split(keys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			s.APIKeys = append(s.APIKeys, k)
		}
	}
	return s
}

// Configure applies settings to the gateway; call before HTTPHandler.
func (s *Service) Configure(set Settings) *Service {
	s.settings = set
	return s
}

// authorize admits a request bearing one of the API keys (any, when none is set).
func (s *Service) authorize(r *http.Request) error {
	if len(s.settings.APIKeys) == 0 {
		return nil
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return fmt.Errorf("%w: no API key: send Authorization: Bearer <key>", openai.ErrUnauthorized)
	}
	for _, k := range s.settings.APIKeys {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(k)) == 1 {
			return nil
		}
	}
	return fmt.Errorf("%w: incorrect API key provided", openai.ErrUnauthorized)
}

// sdk is a client of the mesh over the gateway's own connections (their
// deadlines, retries and breakers).
func (s *Service) sdk() (*pdfqa.Client, error) {
	return pdfqa.Dial(context.Background(), "", pdfqa.WithConnector(func(desc *grpc.ServiceDesc) (grpc.ClientConnInterface, error) {
		b, err := s.services.Of(desc)
		if err != nil {
			return nil, err
		}
		return s.clients.Conn(b.Downstream())
	}))
}

// clientRoutes adds the OpenAI-compatible API and the MCP tools to root. A
// mesh whose registry lacks the services they call (agents, retrieval, ...)
// serves neither, and says so in the log.
func (s *Service) clientRoutes(root *http.ServeMux) error {
	c, err := s.sdk()
	if errors.Is(err, registry.ErrUnknown) {
		if s.log != nil {
			s.log.Warn("OpenAI-compatible API and MCP tools not served", "err", err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	root.Handle(openai.Prefix+"/", openai.Handler(openai.Options{Backend: c, Log: s.log, Authorize: s.authorize}))
	srv := mcptools.NewServer(mcptools.Options{Backend: c})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	root.Handle(MCPPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.authorize(r); err != nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	return nil
}
