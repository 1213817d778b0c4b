"""Text views: markdown tables and the sentences that state verdicts and findings."""
