FROM python:3.11-slim
WORKDIR /srv/yuqing
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY collectors ./collectors
COPY analysis ./analysis
COPY alembic ./alembic
RUN pip install --no-cache-dir .
ENV YUQING_DATABASE_URL=sqlite:////srv/yuqing/data/yuqing.db
EXPOSE 8000
CMD ["yuqing", "serve", "--host", "0.0.0.0", "--port", "8000"]
