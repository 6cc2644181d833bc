package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/config"
)

func init() {
	register("ask", `ask a question over a collection: pdfqa ask --collection NAME "question"`, runAsk)
}

// meshClients connects to a running mesh: directly to addr when set (one
// address serving the services asked for), else through etcd.
type meshClients struct {
	f         *client.Factory
	etcd      *clientv3.Client
	Agents    agentsv1.AgentsServiceClient
	Retrieval retrievalv1.RetrievalServiceClient
}

func connect(etcdFlag, data, addr, retrievalAddr string, cli *clientv3.Client) (*meshClients, error) {
	m := &meshClients{}
	if addr == "" && cli == nil {
		ep := mesh.FindEtcd(etcdFlag, data)
		c, err := clientv3.New(clientv3.Config{Endpoints: splitList(ep), DialTimeout: 5 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("etcd %s: %w", ep, err)
		}
		m.etcd, cli = c, c
	}
	if addr != "" {
		cli = nil
	}
	f, err := client.NewFactory(cli, nil)
	if err != nil {
		m.Close()
		return nil, err
	}
	m.f = f
	if retrievalAddr == "" {
		retrievalAddr = addr
	}
	ac, err := f.Conn(client.Downstream{Service: "agents", GRPCService: agentsv1.AgentsService_ServiceDesc.ServiceName, Address: addr, StreamTimeout: 30 * time.Minute})
	if err != nil {
		m.Close()
		return nil, err
	}
	rc, err := f.Conn(client.Downstream{Service: "retrieval", GRPCService: retrievalv1.RetrievalService_ServiceDesc.ServiceName, Address: retrievalAddr, StreamTimeout: 60 * time.Minute})
	if err != nil {
		m.Close()
		return nil, err
	}
	m.Agents, m.Retrieval = agentsv1.NewAgentsServiceClient(ac), retrievalv1.NewRetrievalServiceClient(rc)
	return m, nil
}

func (m *meshClients) Close() {
	if m.f != nil {
		_ = m.f.Close()
	}
	if m.etcd != nil {
		_ = m.etcd.Close()
	}
}

func runAsk(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ask", stderr)
	collection := fs.String("collection", "", "collection to search (required)")
	adapter := fs.String("adapter", "", "LoRA adapter for the answering model")
	single := fs.Bool("single-shot", false, "one search and one answer: no planner, no verifier")
	pad := fs.Bool("scratchpad", false, "print the agents' scratchpad to stderr")
	addr := fs.String("addr", "", "agents gRPC address (default: resolve through the mesh's etcd)")
	etcd := fs.String("etcd", config.Env("PDFQA_ETCD", ""), "etcd endpoints (default: the running `pdfqa up` in --data)")
	data := fs.String("data", config.DefaultData(), "data directory of a running `pdfqa up`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	question := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if *collection == "" || question == "" {
		return usageErr(`pdfqa ask --collection NAME [--adapter NAME] [--single-shot] [--scratchpad] "question"`)
	}
	m, err := connect(*etcd, *data, *addr, "", nil)
	if err != nil {
		return err
	}
	defer m.Close()
	req := &agentsv1.AskRequest{Collection: *collection, Question: question, Adapter: *adapter, IncludeScratchpad: *pad}
	if *single {
		req.Mode = agentsv1.AskMode_ASK_MODE_SINGLE_SHOT
	}
	run, err := askStream(ctx, m.Agents, req, func(d string) { fmt.Fprint(stdout, d) })
	fmt.Fprintln(stdout)
	if run != nil {
		printRun(stdout, stderr, run)
	}
	return err
}

// askStream runs one Ask, passing answer deltas to onDelta, and returns the final run.
func askStream(ctx context.Context, c agentsv1.AgentsServiceClient, req *agentsv1.AskRequest, onDelta func(string)) (*agentsv1.Run, error) {
	st, err := c.Ask(ctx, req)
	if err != nil {
		return nil, err
	}
	var run *agentsv1.Run
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			if run == nil {
				return nil, errors.New("the stream ended without a run")
			}
			return run, nil
		}
		if err != nil {
			return run, err
		}
		if d := ev.GetAnswerDelta(); d != "" && onDelta != nil {
			onDelta(d)
		}
		if r := ev.GetRun(); r != nil {
			run = r
		}
	}
}

func printRun(stdout, stderr io.Writer, run *agentsv1.Run) {
	if len(run.GetCitations()) > 0 {
		fmt.Fprintln(stdout, "\nCitations:")
		for _, c := range run.GetCitations() {
			fmt.Fprintf(stdout, "  [%s p.%d] %s\n", c.GetDocument(), c.GetPage(), truncateLine(c.GetQuote(), 120))
		}
	}
	if v := run.GetVerification(); v != nil {
		fmt.Fprintf(stdout, "Support score: %.2f (%d claims checked)\n", v.GetSupportScore(), len(v.GetClaims()))
	}
	if run.GetDegraded() {
		fmt.Fprintln(stdout, "Degraded: the language model was unavailable; the answer is extractive.")
	}
	if run.GetError() != "" {
		fmt.Fprintf(stdout, "Note: %s\n", run.GetError())
	}
	var ts []string
	for _, t := range run.GetTimings() {
		ts = append(ts, fmt.Sprintf("%s %.0fms", t.GetStage(), t.GetMs()))
	}
	fmt.Fprintf(stdout, "Run %s (%s): %s\n", run.GetId(), strings.TrimPrefix(run.GetStatus().String(), "RUN_STATUS_"), strings.Join(ts, ", "))
	if run.GetScratchpad() != "" {
		fmt.Fprintf(stderr, "--- scratchpad ---\n%s\n", run.GetScratchpad())
	}
}

func truncateLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
