package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/pdfqa/pdfqa/platform/auth"
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
	// MaxUploadBytes is the mesh's one upload limit (the composition root
	// sets it from PDFQA_MAX_UPLOAD_BYTES): a streamed upload past it is
	// cut off with 413. 0: retrieval's own check only.
	MaxUploadBytes int64
}

// Read reads the gateway's settings through r. API keys are not among
// them: the OpenAI-compatible API and MCP take the mesh's own keys, checked
// by platform/auth like every REST route (WriteAuthError shapes refusals).
func Read(*config.Reader) Settings {
	return Settings{}
}

// Configure applies settings to the gateway; call before HTTPHandler.
func (s *Service) Configure(set Settings) *Service {
	s.settings = set
	return s
}

// WriteAuthError writes a refusal of the mesh's HTTP authentication (a
// gRPC status error) in the shape of the route asked: OpenAI's error for
// the OpenAI-compatible API, the REST API's for every other route. It is
// the auth middleware's auth.HTTPOptions.WriteError.
func WriteAuthError(w http.ResponseWriter, r *http.Request, err error, retry time.Duration) {
	if strings.HasPrefix(r.URL.Path, openai.Prefix+"/") {
		openai.WriteStatusError(w, err, retry)
		return
	}
	auth.WriteError(w, err, retry)
}

// authorize admits a request the mesh's authentication let through (its
// key's principal is in the context; none without auth) whose role may
// read; the refusal is an SDK error, as the clients' routes report them.
func authorize(r *http.Request) error {
	if err := auth.Require(r.Context(), auth.Reader); err != nil {
		st := status.Convert(auth.Status(err))
		return &pdfqa.Error{Code: st.Code(), Message: st.Message()}
	}
	return nil
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
	root.Handle(openai.Prefix+"/", openai.Handler(openai.Options{Backend: c, Log: s.log, Authorize: authorize}))
	srv := mcptools.NewServer(mcptools.Options{Backend: c})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	root.Handle(MCPPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := auth.Require(r.Context(), auth.Reader); err != nil {
			auth.WriteError(w, auth.Status(err), 0)
			return
		}
		h.ServeHTTP(w, r)
	}))
	return nil
}
