"""A local DynamoDB for `make run` and the tests: moto's server on 127.0.0.1, one request at a time.

Run alone (`python -m worker.local_dynamodb [--port N]`) it prints its URL and serves until stopped.
"""
import argparse
import logging
import socket
import sys
import threading


class LocalDynamoDB:
    """moto's DynamoDB server on 127.0.0.1, answering one request at a time.

    DynamoDB applies each conditional write atomically; moto's server only does when requests do not
    overlap (its threads race inside UpdateItem), so requests are serialised here: claims then behave
    as they do on AWS, for `make run` and for the tests' worker processes alike.
    """

    def __init__(self, port=0):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        app, lock = DomainDispatcherApplication(create_backend_app), threading.Lock()

        def one_at_a_time(environ, start_response):
            with lock:
                return list(app(environ, start_response))

        if port:
            with socket.socket() as probe:  # werkzeug would print and exit on a taken port; say it plainly instead
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds
                probe.bind(("127.0.0.1", port))
        self._server = make_server("127.0.0.1", port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # an access-log line per DynamoDB call is noise

    def start(self):
        threading.Thread(target=self._server.serve_forever, name="local-dynamodb", daemon=True).start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


def main():
    parser = argparse.ArgumentParser(description="Serve a local DynamoDB (moto) on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    server = LocalDynamoDB(parser.parse_args().port)
    sys.stdout.write(server.url + "\n")
    sys.stdout.flush()
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
