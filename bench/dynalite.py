"""dynalite (npm: a DynamoDB emulator on LevelDB), installed under bench/.node on first use."""
import socket
import subprocess
from pathlib import Path

DYNALITE = "dynalite@4.0.0"


def start_dynalite(path=None):
    """Start dynalite on a free port of 127.0.0.1 (in memory, or on disk under `path`); return (process, url)."""
    node = Path(__file__).resolve().parent / ".node"
    binary = node / "node_modules" / ".bin" / "dynalite"
    if not binary.exists():
        subprocess.run(["npm", "install", "--silent", "--prefix", str(node), DYNALITE], check=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    on_disk = ["--path", str(path)] if path else []
    process = subprocess.Popen([str(binary), "--host", "127.0.0.1", "--port", str(port), *on_disk],
                               stdout=subprocess.PIPE, text=True)
    process.stdout.readline()  # "Dynalite listening at: ..."
    return process, f"http://127.0.0.1:{port}"


