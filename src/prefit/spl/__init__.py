"""DailyMed SPL labels: safe XML parsing, pharmacokinetics paragraphs and their ADME labels by
heading class (docs/spl.md), and reading labels from folders and DailyMed's bulk archives."""
