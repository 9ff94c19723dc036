"""The Starlette web app: the HTTP API of ../shared/spec/http-api.md and the pages."""
