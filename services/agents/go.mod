module github.com/pdfqa/pdfqa/services/agents

go 1.26.8
