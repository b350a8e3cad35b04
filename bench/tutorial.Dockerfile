# The tutorial baseline of bench/app_bench.py: Flask's development server, same base
# image and Debian packages as files/web. Built with bench/ as the context.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-flask python3-redis \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
WORKDIR /app
COPY tutorial_app.py /app/
USER nobody
ENV NAME=World PORT=8000
EXPOSE 8000
CMD ["python3", "/app/tutorial_app.py"]
