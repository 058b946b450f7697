"""The earlier project's way of serving, rebuilt as a baseline for `cataract bench serve`:
a FastAPI `POST /predict/` that takes the photo, resizes it, calls the model once per
request in float32 and answers {"prediction", "confidence"}. Same SavedModel (which
carries its decision threshold: the top class is the answer), same machine: the
difference the benchmark shows is Triton's.

Run: python -m benchmarks.reference_server SAVEDMODEL_DIR --port PORT
"""

import argparse

# Module-level imports: FastAPI resolves the endpoint's annotations from module globals.
from fastapi import FastAPI, File, HTTPException, UploadFile

from cataract_contract import CATARACT, OUTPUT_PROBABILITIES, SERVED_THRESHOLD, ImageError, decode_image, resize_for_model
from savedmodel_runner import SavedModelClassifier


def create_app(savedmodel_dir: str):
    classifier = SavedModelClassifier(savedmodel_dir)
    app = FastAPI(title="reference cataract server (baseline)")

    @app.post("/predict/")
    async def predict(file: UploadFile = File(...)) -> dict:
        try:
            image = resize_for_model(decode_image(await file.read()), classifier.image_size)
        except ImageError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        probabilities = classifier(image[None])[OUTPUT_PROBABILITIES][0]
        cataract = float(probabilities[CATARACT]) >= SERVED_THRESHOLD
        return {
            "prediction": "Cataract" if cataract else "Normal",
            "confidence": round(100.0 * float(probabilities[CATARACT] if cataract else probabilities[1 - CATARACT]), 2),
        }

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("savedmodel")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    uvicorn.run(create_app(args.savedmodel), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
