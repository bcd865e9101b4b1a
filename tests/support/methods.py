"""The attribution methods as the tests run them: on an adapter's all-ones mask, and as explain() names them."""

from edgeattr import EdgeGradient, EdgeOcclusion, GNNExplainer, GradientSign, LayerwiseOcclusion, sign_flips

#: Every way of explaining, each on an adapter's all-ones mask (the model must be left as it was after each).
STATE_METHODS = {
    "EdgeGradient": lambda f: EdgeGradient(f).attribute(f.ones()),
    "GradientSign": lambda f: GradientSign(f).attribute(f.ones()),
    "EdgeOcclusion": lambda f: EdgeOcclusion(f).attribute(f.ones()),
    "EdgeOcclusion-remove": lambda f: EdgeOcclusion(f).attribute(f.ones(), mode="remove"),
    "LayerwiseOcclusion": lambda f: LayerwiseOcclusion(f).attribute(f.ones()),
    "GNNExplainer": lambda f: GNNExplainer(f, epochs=3).attribute(f.ones()),
    "sign_flips": lambda f: sign_flips(f, f.ones(), steps=3),
}


#: method name -> (class, whether it runs on a layerwise adapter, options passed through explain())
EXPECTED = {
    "edge_gradient": (EdgeGradient, False, {}),
    "gradient_sign": (GradientSign, False, {"eps": 1e-3}),
    "edge_occlusion": (EdgeOcclusion, False, {"mode": "remove"}),
    "layerwise_gradient": (EdgeGradient, True, {}),
    "layerwise_occlusion": (LayerwiseOcclusion, True, {}),
    "gnnexplainer": (GNNExplainer, False, {"epochs": 5, "lr": 0.1}),
}


def by_class(cls, adapter, options):
    """The attribution class itself on the adapter's all-ones mask, split into constructor and attribute options."""
    init = {k: v for k, v in options.items() if k in ("eps", "epochs", "lr")}
    call = {k: v for k, v in options.items() if k not in init}
    return cls(adapter, **init).attribute(adapter.ones(), **call)[0]
