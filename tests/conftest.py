import os

os.environ.setdefault("ENTRONAS_TEST", "1")
