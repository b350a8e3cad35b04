"""Stand-in for setuptools' pkg_resources inside the web image.

gunicorn 20.1 imports pkg_resources when it starts but uses it only to resolve "egg:"
worker URIs, which this image's configuration never uses. The real module costs about
6 MB in each gunicorn process: too much under the swarm's 50M memory limit per replica.
"""


def load_entry_point(dist: str, group: str, name: str) -> object:
    raise ImportError(
        f"pkg_resources is a stub in this image: cannot load {dist}:{group}:{name}; "
        "give gunicorn a dotted class path such as gunicorn.workers.gthread.ThreadWorker"
    )
