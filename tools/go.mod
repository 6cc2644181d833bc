module github.com/pdfqa/pdfqa/tools

go 1.26.8
