"""The reviewers' triage page: server-rendered Jinja2, session cookies, CSRF tokens, keyboard shortcuts."""
