"""Files: fragment CSS/JS, XBlock package resources, and course files (served so they cannot act as the app)."""

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from ..blocks import RESOURCES, LoadedCourse
from ..errors import NotFound
from ..http import ACTIVE_SUFFIXES, COURSE_FILE_CSP
from ..web import HERE, Web

TYPES = {".css": "text/css", ".js": "text/javascript"}


def router(web: Web, courses: dict[str, LoadedCourse]) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    favicon = (HERE / "static" / "favicon.ico").read_bytes()  # drawn by tools/make_favicon.py

    @r.get("/favicon.ico")
    async def favicon_ico() -> Response:
        # Browsers ask for /favicon.ico whatever the page says; a 404 there fills the logs on every visit.
        return Response(
            favicon, media_type="image/x-icon", headers={"cache-control": "public, max-age=86400"}
        )

    @r.get("/assets/frag/{name}")
    async def frag_asset(name: str) -> Response:
        item = RESOURCES.get(name)
        if item is None:
            raise NotFound()
        return Response(
            item[1], media_type=item[0], headers={"cache-control": "public, max-age=31536000, immutable"}
        )

    @r.get("/assets/xblock/{block_type}/{uri:path}")
    async def xblock_asset(block_type: str, uri: str) -> Response:
        cls = next((c.classes[block_type] for c in courses.values() if block_type in c.classes), None)
        if cls is None:
            raise NotFound()
        try:
            data = cls.open_local_resource(uri).read()
        except Exception:  # XBlock raises several types for a refused or missing path
            raise NotFound() from None
        ctype = TYPES.get(uri[uri.rfind(".") :], "application/octet-stream")
        return Response(data, media_type=ctype, headers={"cache-control": "public, max-age=3600"})

    @r.get("/courses/{course_id}/static/{rel:path}")
    async def course_asset(course_id: str, rel: str, request: Request) -> FileResponse:
        """A course file, served so that it cannot act as the app (docs/security.md): sandboxed (an
        origin of its own, no script), active types (html, svg, xml, js ...) as downloads, and the
        files of a hidden course only to those who may see the course."""
        c = web.courses.get(course_id)
        path = c.static_file(rel)
        if path is None:
            raise NotFound()
        await web.courses.visible_or_404(c, await web.session_of(request))
        headers = {"cache-control": "private, max-age=3600", "content-security-policy": COURSE_FILE_CSP}
        if path.suffix.lower() in ACTIVE_SUFFIXES:
            headers["content-disposition"] = f"attachment; filename*=UTF-8''{quote(path.name)}"
        return FileResponse(path, headers=headers)

    return r
